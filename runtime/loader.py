"""Load a generated eBPF program into the kernel with bcc.

:func:`load_program` compiles the C of an :class:`~cora.targets.base.Artifact` (in a
forked child first, so that an LLVM fatal error cannot end cora), loads it through the
verifier as its target's program type with its target's load flags
(:class:`cora.targets.base.Target`), fills each map's initial entries and returns a
:class:`LoadedProgram` whose ``close()`` releases everything (programs and maps disappear
once no fd or pin holds them).
A verifier rejection is a compiler bug; it is reported with the verifier's own words and the
NF source line that caused them.
"""

from __future__ import annotations

import ctypes
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cora.compiler.ir import Program, StateDecl
from cora.errors import EnvironmentProblem, KernelError
from cora.targets.base import Artifact, Target
from cora.targets.ebpf.emit import map_c_name
from cora.targets.ebpf.maps import pack_key, pack_value


def require_bcc():
    """Import bcc or raise EnvironmentProblem saying how to get it."""
    if os.geteuid() != 0:
        raise EnvironmentProblem("loading eBPF needs root: run cora as root (sudo)")
    try:
        import bcc  # noqa: F401
    except ImportError:
        raise EnvironmentProblem(
            "bcc is not importable: install Debian's python3-bpfcc and use the venv made by "
            "`make test` (it sees system site packages)") from None
    return bcc


@contextmanager
def capture_fd2() -> Iterator[dict[str, str]]:
    """Capture what C code writes to file descriptor 2 (libbcc prints verifier logs there):
    yields a dict whose ``"text"`` is the captured text once the block has ended."""
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        box = {"text": ""}
        try:
            yield box
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            box["text"] = tmp.read().decode(errors="replace")


def unload(loaded: Any) -> None:
    """Release what a load holds: close ``loaded.prog_fd`` (then -1) and clean up its bcc
    object ``loaded.bpf`` (then None); each at most once. Anything pinned or attached stays
    in the kernel. Used by :class:`LoadedProgram` and the hand-written references
    (:mod:`cora.testbed.handwritten`)."""
    if loaded.prog_fd >= 0:
        os.close(loaded.prog_fd)
        loaded.prog_fd = -1
    if loaded.bpf is not None:
        loaded.bpf.cleanup()
        loaded.bpf = None


@dataclass
class LoadedProgram:
    """A loaded (not attached) eBPF program and its maps, of any target.

    Attributes:
        artifact: what was loaded.
        bpf: the bcc ``BPF`` object owning the program and maps.
        prog_fd: the program's file descriptor.
        map_fds: state name -> map fd.
    """

    artifact: Artifact
    bpf: Any
    prog_fd: int
    map_fds: dict[str, int] = field(default_factory=dict)
    #: kernel map name -> fd of a map reused from elsewhere (``reuse_maps`` of the load)
    reused: dict[str, int] = field(default_factory=dict)

    def map_fd(self, name: str) -> int:
        """The fd of a state's map, or of an internal map (``cora_env``, ``cora_verdicts``).

        Raises:
            KeyError: no such map in the program.
        """
        try:
            name = map_c_name(self.artifact.program.state(name))
        except KeyError:
            pass
        if name in self.reused:
            return self.reused[name]
        return _table_fd(self.bpf, name)

    def close(self) -> None:
        """Release the program and maps (what is pinned or attached stays in the kernel)."""
        unload(self)

    def __enter__(self) -> LoadedProgram:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _table_fd(bpf: Any, name: str) -> int:
    """A map's fd from libbcc directly (bcc's Python table classes reject some layouts, e.g.
    per-CPU values shorter than 8 bytes, that the kernel accepts)."""
    import bcc

    fd = bcc.lib.bpf_table_fd(bpf.module, name.encode())
    if fd < 0:
        raise KeyError(name)
    return fd


def _nf_line(artifact: Artifact, log: str) -> str:
    """Find the NF source position the verifier complained about, from ``/* @l:c */`` tags."""
    tags = re.findall(r"/\* @(\d+):(\d+) \*/", log)
    if tags:
        line, col = tags[-1]
        return f"{artifact.program.source or artifact.program.name}:{line}:{col}"
    return artifact.program.source or artifact.program.name


BPF_PROG_LOAD = 5
_INSN_BYTES = 8


class _ProgLoadAttr(ctypes.Structure):
    """The leading ``BPF_PROG_LOAD`` members of ``union bpf_attr`` (include/uapi/linux/bpf.h)."""

    _fields_ = [("prog_type", ctypes.c_uint32), ("insn_cnt", ctypes.c_uint32),
                ("insns", ctypes.c_uint64), ("license", ctypes.c_uint64),
                ("log_level", ctypes.c_uint32), ("log_size", ctypes.c_uint32),
                ("log_buf", ctypes.c_uint64), ("kern_version", ctypes.c_uint32),
                ("prog_flags", ctypes.c_uint32), ("prog_name", ctypes.c_char * 16),
                ("prog_ifindex", ctypes.c_uint32), ("expected_attach_type", ctypes.c_uint32)]


def prog_load(insns: bytes, name: str, target: Target, flags: int) -> tuple[int, str]:
    """Load bytecode (map fds already relocated by bcc) as ``target``'s program type with
    ``prog_flags`` = ``flags``.

    Returns:
        (fd, "") on success or (-1, verifier log) on failure.
    """
    from cora.runtime import bpf_syscall

    prog_type = target.prog_type
    kind = target.name.upper()
    ibuf = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(b"GPL")
    attr = _ProgLoadAttr(prog_type=prog_type, insn_cnt=len(insns) // _INSN_BYTES,
                         insns=ctypes.addressof(ibuf), license=ctypes.addressof(lic),
                         prog_flags=flags, prog_name=name.encode()[:15])
    try:
        return bpf_syscall.bpf_call(BPF_PROG_LOAD, attr, f"loading {kind} program {name}"), ""
    except Exception:
        size = 1 << 22
        log = ctypes.create_string_buffer(size)
        attr.log_level, attr.log_size, attr.log_buf = 1, size, ctypes.addressof(log)
        try:
            return bpf_syscall.bpf_call(BPF_PROG_LOAD, attr, f"loading {kind} program {name}"), ""
        except Exception:
            return -1, log.value.decode(errors="replace")


_CFLAGS = ["-Wno-unused-label", "-Wno-unused-variable", "-Wno-unused-function",
           "-Wno-compare-distinct-pointer-types"]


def _compile_check(src: str) -> str | None:
    """Compile ``src`` with bcc in a forked child first.

    LLVM's BPF backend reports some errors (e.g. "BPF stack limit of 512 bytes is exceeded")
    as fatal errors that call ``exit(1)``, which would end cora itself without a word. The
    child takes that hit instead.

    Returns:
        None when the child compiled it, else the compiler's last words.
    """
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        pid = os.fork()
        if pid == 0:  # child: never returns
            code = 3
            try:
                os.dup2(tmp.fileno(), 2)
                os.dup2(tmp.fileno(), 1)
                import bcc

                bcc.BPF(text=src, cflags=_CFLAGS, debug=0).cleanup()
                code = 0
            except BaseException:
                code = 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            return None
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    lines = [ln.strip() for ln in text.splitlines()
             if ln.strip() and "DeprecationWarning" not in ln and "_assert_is_bytes" not in ln]
    errors = [ln for ln in lines if "error" in ln.lower()] or lines
    return " | ".join(errors[-4:]) or f"the compiler exited with status {status}"


def load_program(artifact: Artifact, target: Target | None = None,
                 reuse_maps: dict[str, int] | None = None) -> LoadedProgram:
    """Compile and load ``artifact`` into the kernel as its target's program type.

    Args:
        artifact: what a target generated.
        target: the target that generated it (default: the one named ``artifact.target``);
            it gives the program type and load flags.
        reuse_maps: kernel map name (C name, e.g. ``cora_flows``, ``cora_verdicts``) -> fd
            of an existing map of the same layout that the program uses instead of the
            one bcc created (see :func:`relocate_maps`); such a map keeps its entries (no
            initial entries are written) and ``map_fds`` names the reused fd, which stays
            the caller's to close.
    Returns:
        a :class:`LoadedProgram`; close it (or use ``with``) to release it.
    Raises:
        EnvironmentProblem: no root or no bcc.
        KernelError: clang or the verifier rejected the program (a compiler bug), with the
            verifier's words and the NF source position.
    """
    if target is None:
        from cora.targets import get_target

        target = get_target(artifact.target)
    return _load(artifact, target, target.load_flags(artifact), reuse_maps or {})


def load_xdp(artifact: Artifact, reuse_maps: dict[str, int] | None = None) -> LoadedProgram:
    """:func:`load_program` for an artifact of the xdp target (its historical name)."""
    from cora.targets.xdp import XdpTarget

    return load_program(artifact, XdpTarget(), reuse_maps)


#: ``BPF_LD | BPF_DW | BPF_IMM``: the first half of a 16-byte load of a 64-bit immediate
_LD_IMM64 = 0x18
#: src_reg values of an ld_imm64 whose imm is a map fd (include/uapi/linux/bpf.h:
#: BPF_PSEUDO_MAP_FD 1, BPF_PSEUDO_MAP_VALUE 2)
_PSEUDO_MAP_SRC = (1, 2)


def relocate_maps(insns: bytes, fd_map: dict[int, int]) -> bytes:
    """Point a program's map references at other maps before it is loaded.

    bcc relocates each map reference to an ``ld_imm64`` whose ``src_reg`` is
    ``BPF_PSEUDO_MAP_FD`` (or ``BPF_PSEUDO_MAP_VALUE``) and whose ``imm`` is the map fd it
    created; the kernel resolves that fd at ``BPF_PROG_LOAD``. Rewriting ``imm`` makes the
    loaded program use another map (the verifier then checks every access against that
    map's own key/value sizes). Instruction format: Documentation/bpf/standardization/
    instruction-set.rst (8-byte slots: opcode, dst/src registers, 16-bit offset, 32-bit imm).

    Args:
        insns: the program (a multiple of 8 bytes); fd_map: old fd -> new fd.
    Returns:
        the rewritten program (same length).
    """
    out = bytearray(insns)
    i = 0
    while i + _INSN_BYTES <= len(out):
        if out[i] == _LD_IMM64:
            src = out[i + 1] >> 4
            imm = int.from_bytes(out[i + 4:i + 8], "little", signed=True)
            if src in _PSEUDO_MAP_SRC and imm in fd_map:
                out[i + 4:i + 8] = fd_map[imm].to_bytes(4, "little", signed=True)
            i += 2 * _INSN_BYTES  # ld_imm64 takes two slots
            continue
        i += _INSN_BYTES
    return bytes(out)


def load_tc(artifact: Artifact) -> LoadedProgram:
    """:func:`load_program` for an artifact of the tc target (a ``BPF_PROG_TYPE_SCHED_CLS``
    program for cls_bpf direct-action or BPF_PROG_TEST_RUN)."""
    from cora.targets.tc import TcTarget

    return load_program(artifact, TcTarget())


def _load(artifact: Artifact, target: Target, flags: int,
          reuse_maps: dict[str, int]) -> LoadedProgram:
    """Compile ``artifact`` (forked compile check first), load its entry function as
    ``target``'s program type with ``prog_flags`` = ``flags`` and fill its maps' initial
    entries."""
    bcc = require_bcc()
    src = artifact.files["prog.c"]
    fatal = _compile_check(src)
    if fatal is not None:
        raise KernelError(f"clang/LLVM cannot build the program generated for "
                          f"{artifact.program.name} (a cora limitation or bug, please report "
                          f"it): {fatal}")
    with capture_fd2() as captured:
        try:
            bpf = bcc.BPF(text=src, cflags=_CFLAGS, debug=0)
        except Exception as exc:  # bcc raises bare Exception for clang errors
            err = exc
            bpf = None
    if bpf is None:
        raise KernelError(f"clang rejected the generated C for {artifact.program.name} "
                          f"(a cora bug): {err}\n{captured['text'][-4000:]}")
    prog_fd = -1
    try:
        insns = bpf.dump_func(artifact.entry.encode())
        if reuse_maps:
            insns = relocate_maps(insns, {_table_fd(bpf, name): fd
                                          for name, fd in reuse_maps.items()})
        prog_fd, log = prog_load(insns, artifact.program.name, target, flags)
        if prog_fd < 0:
            # Load once more through bcc, which passes BTF line info, so the verifier's log
            # shows the C lines (and their /* @line:col */ NF tags) it stopped at. bcc's
            # program type constants are the kernel's enum bpf_prog_type.
            with capture_fd2() as captured:
                try:
                    bpf.load_func(artifact.entry.encode(), target.prog_type)
                except Exception:
                    pass
            log = captured["text"] or log
            where = _nf_line(artifact, log)
            lines = [ln for ln in log.strip().splitlines() if ln.strip()]
            tail = "\n".join(lines[-12:])
            raise KernelError(f"{where}: the kernel verifier rejected the program generated for "
                              f"this line (a cora bug, please report it):\n{tail}")
        loaded = LoadedProgram(artifact, bpf, prog_fd, reused=dict(reuse_maps))
        for state in artifact.program.states:
            if map_c_name(state) in reuse_maps:
                loaded.map_fds[state.name] = reuse_maps[map_c_name(state)]
                continue
            fd = _table_fd(bpf, map_c_name(state))
            loaded.map_fds[state.name] = fd
            load_initial_entries(fd, state)
        return loaded
    except BaseException:
        if prog_fd >= 0:  # our own BPF_PROG_LOAD: bcc does not own (or close) this fd
            os.close(prog_fd)
        bpf.cleanup()
        raise


def load_initial_entries(fd: int, state: StateDecl) -> None:
    """Write a state's declared initial entries into its map ``fd`` (per-CPU: the value on
    CPU 0, zeros elsewhere, so the summed value is the declared one)."""
    if not state.init:
        return
    from cora.runtime import bpf_syscall

    for key, value in state.init:
        kb = pack_key(state, key)
        vb = pack_value(state, value)
        if state.kind == "percpu_array":
            zero = bytes(len(vb))
            bpf_syscall.map_update(fd, kb, [vb] + [zero] * (bpf_syscall.possible_cpus() - 1),
                                   0, percpu=True)
        else:
            bpf_syscall.map_update(fd, kb, vb, 0)


def ebpf_instructions(program: Program, frags: bool = False) -> int:
    """Exact eBPF instruction count of the xdp code for ``program`` as clang emits it (bcc
    compile, before the kernel verifier). Needs bcc (and root to create the maps).

    Raises:
        EnvironmentProblem: no bcc or no root. KernelError: clang rejected the code.
    """
    from cora.targets.xdp import XdpTarget


    bcc = require_bcc()
    artifact = XdpTarget().generate(program, frags=frags)
    with capture_fd2() as captured:
        try:
            bpf = bcc.BPF(text=artifact.files["prog.c"].encode(),
                          cflags=["-Wno-unused-label", "-Wno-unused-variable",
                                  "-Wno-unused-function", "-Wno-compare-distinct-pointer-types"])
        except Exception as exc:  # bcc raises bare Exception for clang errors
            bpf, err = None, exc
    if bpf is None:
        raise KernelError(f"clang rejected the code for {program.name}: {err}\n"
                          f"{captured['text'][-2000:]}")
    try:
        return len(bpf.dump_func(artifact.entry.encode())) // 8
    finally:
        bpf.cleanup()
