"""Pinned deployments: one bpffs directory per (namespace, interface), plus JSON metadata.

Layout (one deployment per interface)::

    /sys/fs/bpf/cora/<netns or root>/<ifname>/prog          the XDP program
    /sys/fs/bpf/cora/<netns or root>/<ifname>/maps/<name>   one pin per map, by map name
    /run/cora/<netns or root>/<ifname>.json                 what was deployed (bpffs holds
                                                            only bpf objects, no files)
    /run/cora/<netns or root>/<ifname>.journal              a deploy or undeploy under way
                                                            (or interrupted): see
                                                            :mod:`cora.runtime.deploy`
    /run/cora/<netns or root>/<ifname>.lock                 held (flock) by the one cora
                                                            process changing the deployment

Pins keep programs and maps alive after the deploying process exits, so ``cora stats``
and ``cora undeploy`` can find them later (p4c's eBPF backends pin under /sys/fs/bpf too).
``root`` stands for the root namespace, so a namespace literally named ``root`` is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cora.errors import EnvironmentProblem, KernelError
from cora.runtime.bpf_syscall import obj_get, obj_pin

BPFFS_MOUNT = Path("/sys/fs/bpf")
PIN_ROOT = BPFFS_MOUNT / "cora"
META_ROOT = Path("/run/cora")
ROOT_NS_DIR = "root"


def _ns_dir(netns: str | None) -> str:
    if netns == ROOT_NS_DIR:
        raise EnvironmentProblem(f"namespace name {ROOT_NS_DIR!r} clashes with cora's pin "
                                 "layout (it stands for the root namespace): rename it")
    if netns is not None and ("/" in netns or netns in ("", ".", "..")):
        raise EnvironmentProblem(f"bad namespace name {netns!r}")
    return netns or ROOT_NS_DIR


def _check_ifname(ifname: str) -> str:
    if not ifname or "/" in ifname or ifname in (".", ".."):
        raise EnvironmentProblem(f"bad interface name {ifname!r}")
    return ifname


def deployment_dir(ifname: str, netns: str | None = None) -> Path:
    """``/sys/fs/bpf/cora/<netns or root>/<ifname>``: where a deployment's pins live."""
    return PIN_ROOT / _ns_dir(netns) / _check_ifname(ifname)


def metadata_path(ifname: str, netns: str | None = None) -> Path:
    """``/run/cora/<netns or root>/<ifname>.json``: the deployment's metadata file."""
    return META_ROOT / _ns_dir(netns) / f"{_check_ifname(ifname)}.json"


def bpffs_mounted(mount: Path = BPFFS_MOUNT) -> bool:
    """True if a bpf filesystem is mounted at ``mount`` (per /proc/self/mounts)."""
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1] == str(mount) and parts[2] == "bpf":
                return True
    return False


def ensure_bpffs(mount: Path = BPFFS_MOUNT) -> None:
    """Make sure bpffs is mounted at /sys/fs/bpf, mounting it if not (as ``mount -t bpf bpf
    /sys/fs/bpf`` would, via mount(2)); a fresh machine of this kind has none.

    Raises:
        EnvironmentProblem: it is not mounted and cannot be (not root, no bpffs support).
    """
    if bpffs_mounted(mount):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    os.makedirs(mount, exist_ok=True)
    if libc.mount(b"bpf", os.fsencode(str(mount)), b"bpf", ctypes.c_ulong(0), None) != 0:
        err = ctypes.get_errno()
        raise EnvironmentProblem(f"bpffs is not mounted on {mount} and mounting it failed "
                                 f"({os.strerror(err)}): run `mount -t bpf bpf {mount}` "
                                 "as root")


@dataclass
class Pinned:
    """Open fds of a pinned deployment; close them with :meth:`close` (or ``with``).

    Attributes:
        directory: the deployment directory; prog_fd: the program fd (or None if no program
        is pinned); maps: map name -> fd.
    """

    directory: Path
    prog_fd: int | None
    maps: dict[str, int] = field(default_factory=dict)

    def close(self) -> None:
        """Close every fd (the pinned objects stay)."""
        for fd in [self.prog_fd, *self.maps.values()]:
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.prog_fd, self.maps = None, {}

    def __enter__(self) -> Pinned:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def pin(directory: Path, prog_fd: int | None, maps: dict[str, int],
        after_each: Callable[[str], None] | None = None) -> Path:
    """Pin a program at ``directory/prog`` and each map at ``directory/maps/<name>``.

    The directory must not hold a deployment already. If any pin fails, every pin made
    here is removed before the error propagates.

    Args:
        directory: a deployment directory (see :func:`deployment_dir`), under bpffs.
        prog_fd: program fd, or None to pin maps only.
        maps: map name -> map fd (names are the NF's state names; no '/').
        after_each: called with ``"prog"`` or ``"map"`` after each pin is made (the
            fault-injection points of :mod:`cora.runtime.deploy`).

    Returns:
        ``directory``.

    Raises:
        EnvironmentProblem: bpffs cannot be mounted; a deployment exists there already.
        KernelError: the kernel refused a pin.
    """
    ensure_bpffs()
    directory = Path(directory)
    if (directory / "prog").exists() or (directory / "maps").exists():
        raise EnvironmentProblem(f"a deployment is pinned at {directory} already: undeploy "
                                 "it first")
    for name in maps:
        if not name or "/" in name or name in (".", ".."):
            raise EnvironmentProblem(f"bad map name {name!r} for a pin")
    try:
        os.makedirs(directory / "maps", exist_ok=True)
        if prog_fd is not None:
            obj_pin(prog_fd, str(directory / "prog"))
            if after_each is not None:
                after_each("prog")
        for name, fd in maps.items():
            obj_pin(fd, str(directory / "maps" / name))
            if after_each is not None:
                after_each("map")
    except BaseException:
        unpin_all(directory)
        raise
    return directory


def open_pinned(directory: Path) -> Pinned:
    """Open the program and maps pinned in ``directory`` (new fds; close them).

    Raises:
        EnvironmentProblem: nothing is pinned there (say what to do).
        KernelError: a pin exists but cannot be opened.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise EnvironmentProblem(f"no deployment pinned at {directory}: deploy first "
                                 "(`cora deploy`)")
    pinned = Pinned(directory=directory, prog_fd=None)
    try:
        if (directory / "prog").exists():
            pinned.prog_fd = obj_get(str(directory / "prog"))
        maps_dir = directory / "maps"
        if maps_dir.is_dir():
            for entry in sorted(maps_dir.iterdir()):
                pinned.maps[entry.name] = obj_get(str(entry))
    except BaseException:
        pinned.close()
        raise
    return pinned


def unpin_all(directory: Path, after_each: Callable[[str], None] | None = None) -> list[str]:
    """Remove every pin and subdirectory under ``directory`` and the directory itself, then
    empty parent directories below /sys/fs/bpf/cora (kept). Tolerates partial or missing state.

    Args:
        after_each: called with each removed path (fault-injection points of
            :mod:`cora.runtime.deploy`).

    Returns:
        paths removed (pins and directories), for reporting.

    Raises:
        KernelError: something there could not be removed (other than already gone).
    """
    directory = Path(directory)
    removed: list[str] = []
    if not directory.exists():
        return removed
    for root, dirs, files in os.walk(directory, topdown=False):
        for name in files:
            _remove(Path(root) / name, os.unlink, removed, after_each)
        for name in dirs:
            _remove(Path(root) / name, os.rmdir, removed, after_each)
    _remove(directory, os.rmdir, removed, after_each)
    parent = directory.parent
    while parent != PIN_ROOT and PIN_ROOT in parent.parents:
        try:
            os.rmdir(parent)
        except OSError:
            break
        parent = parent.parent
    return removed


def _remove(path: Path, fn, removed: list[str],
            after_each: Callable[[str], None] | None = None) -> None:
    try:
        fn(path)
        removed.append(str(path))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise KernelError(f"cannot remove {path}: {exc.strerror}") from None
    if after_each is not None:
        after_each(str(path))


def pinned_prog_id(directory: Path) -> int | None:
    """Id of the program pinned at ``directory/prog``, or None when none is pinned (or the
    pin cannot be opened)."""
    from cora.runtime.bpf_syscall import prog_info

    path = Path(directory) / "prog"
    if not path.exists():
        return None
    try:
        fd = obj_get(str(path))
    except KernelError:
        return None
    try:
        return prog_info(fd).id
    except KernelError:
        return None
    finally:
        os.close(fd)


# --- metadata ---------------------------------------------------------------------------
def _write_json_atomically(path: Path, data: dict) -> Path:
    """Write ``data`` to ``path`` through a temporary file and rename(2): a reader (or a
    process killed half-way) sees the old file or the new one, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(json.dumps(data, indent=2, sort_keys=True))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def write_metadata(ifname: str, netns: str | None, data: dict) -> Path:
    """Write the deployment's metadata (JSON object) atomically; returns its path."""
    return _write_json_atomically(metadata_path(ifname, netns), data)


def read_metadata(ifname: str, netns: str | None = None) -> dict | None:
    """The deployment's metadata, or None if there is none.

    Raises:
        EnvironmentProblem: the file exists but is not valid JSON (say which).
    """
    path = metadata_path(ifname, netns)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EnvironmentProblem(f"deployment metadata {path} is unreadable ({exc}): "
                                 "undeploy and deploy again") from None


def remove_metadata(ifname: str, netns: str | None = None) -> bool:
    """Delete the metadata file (and its empty namespace directory); False if absent."""
    path = metadata_path(ifname, netns)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    try:
        path.parent.rmdir()
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT, errno.EBUSY):
            raise
    return True


# --- journal and lock --------------------------------------------------------------------
def journal_path(ifname: str, netns: str | None = None) -> Path:
    """``/run/cora/<netns or root>/<ifname>.journal``: a deploy/undeploy under way."""
    return META_ROOT / _ns_dir(netns) / f"{_check_ifname(ifname)}.journal"


def write_journal(ifname: str, netns: str | None, data: dict) -> Path:
    """Write the journal (a JSON object, atomically); returns its path."""
    return _write_json_atomically(journal_path(ifname, netns), data)


def read_journal(ifname: str, netns: str | None = None) -> dict | None:
    """The journal of an unfinished deploy/undeploy, or None if there is none.

    A journal that cannot be parsed (only possible if it was edited by hand, since it is
    written atomically) reads as ``{"op": "unknown"}``: recovery then removes what is there.
    """
    path = journal_path(ifname, netns)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"op": "unknown"}
    return data if isinstance(data, dict) else {"op": "unknown"}


def remove_journal(ifname: str, netns: str | None = None) -> bool:
    """Delete the journal and any temporary file a killed writer left; False if absent."""
    path = journal_path(ifname, netns)
    for stale in (path.with_name(path.name + ".tmp"),
                  metadata_path(ifname, netns).with_name(f"{ifname}.json.tmp")):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def lock_path(ifname: str, netns: str | None = None) -> Path:
    """``/run/cora/<netns or root>/<ifname>.lock``."""
    return META_ROOT / _ns_dir(netns) / f"{_check_ifname(ifname)}.lock"


class DeploymentBusy(EnvironmentProblem):
    """Another cora process holds the deployment's lock (a deploy or undeploy is running)."""


@contextlib.contextmanager
def deployment_lock(ifname: str, netns: str | None = None) -> Iterator[None]:
    """Hold the deployment's exclusive lock (flock(2) on its ``.lock`` file) for the block.

    The kernel drops the lock when its holder dies (even by SIGKILL), so a lock never
    outlives a killed process. The lock file is removed on release; a process that locked
    a file just removed notices (the inode differs) and tries again.

    Raises:
        DeploymentBusy: another process holds it (never waits: no hang).
        EnvironmentProblem: /run/cora cannot be written.
    """
    path = lock_path(ifname, netns)
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:  # the directory was removed in between: again
            continue
        except OSError as exc:
            raise EnvironmentProblem(f"cannot create {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            where = f"{ifname} in namespace {netns}" if netns else ifname
            raise DeploymentBusy(f"another cora process (pid {holder}) is deploying or "
                                 f"undeploying on {where}: wait for it to finish") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)
        with contextlib.suppress(OSError):
            path.parent.rmdir()


def lock_held(ifname: str, netns: str | None = None) -> bool:
    """True if some process holds the deployment's lock right now (a deploy or undeploy is
    running); does not take it."""
    try:
        fd = os.open(lock_path(ifname, netns), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def list_deployments() -> list[tuple[str | None, str]]:
    """``[(netns or None, ifname), ...]`` for every metadata file under /run/cora."""
    out: list[tuple[str | None, str]] = []
    if not META_ROOT.is_dir():
        return out
    for ns_dir in sorted(META_ROOT.iterdir()):
        if not ns_dir.is_dir():
            continue
        for meta in sorted(ns_dir.glob("*.json")):
            out.append((None if ns_dir.name == ROOT_NS_DIR else ns_dir.name, meta.stem))
    return out
