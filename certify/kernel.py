"""Register / unregister an exported controller in the running kernel (``bpftool struct_ops``).

``bpftool struct_ops register X.o`` loads the programs and registers every struct_ops map of
the object (here one ``tcp_congestion_ops`` whose map name equals the controller name);
``bpftool struct_ops unregister name NAME`` removes it. A registered controller is listed in
``/proc/sys/net/ipv4/tcp_available_congestion_control`` and can be chosen per socket with
``setsockopt(IPPROTO_TCP, TCP_CONGESTION, name)``.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess

from cora.errors import EnvironmentProblem, InputError, KernelError

AVAILABLE = "/proc/sys/net/ipv4/tcp_available_congestion_control"


def available() -> list:
    """Names in ``net.ipv4.tcp_available_congestion_control``."""
    with open(AVAILABLE) as fh:
        return fh.read().split()


def _bpftool(*args) -> subprocess.CompletedProcess:
    if shutil.which("bpftool") is None:
        raise EnvironmentProblem("bpftool not found (apt-get install bpftool)")
    if os.geteuid() != 0:
        raise EnvironmentProblem("registering a congestion control needs root")
    return subprocess.run(["bpftool", *args], capture_output=True, text=True)


def load(out_dir: str) -> str:
    """Register the controller exported into ``out_dir``; returns its name.

    Raises:
        InputError: no exported object / certificate.json in ``out_dir``.
        KernelError: already registered, or the kernel (verifier) refused it.
    """
    meta = os.path.join(out_dir, "certificate.json")
    if not os.path.isfile(meta):
        raise InputError(f"{out_dir}: no certificate.json (run `cora certify export` first)")
    with open(meta) as fh:
        info = json.load(fh)
    name = info.get("name", "")
    obj = os.path.join(out_dir, f"{name}.bpf.o")
    if not os.path.isfile(obj):
        raise InputError(f"{obj}: no such object (export without --no-compile)")
    if name in available():
        raise KernelError(f"a congestion control named {name!r} is already registered "
                          f"(cora certify unload {name})")
    r = _bpftool("struct_ops", "register", obj)
    if r.returncode or name not in available():
        last = [ln for ln in r.stderr.splitlines() if ln.strip()][-1:] or ["unknown error"]
        raise KernelError(f"bpftool struct_ops register {obj} failed: {last[0]}")
    return name


def unload(name: str) -> None:
    """Unregister the struct_ops map ``name``.

    Raises:
        KernelError: nothing of that name is registered, or bpftool failed.
    """
    if name not in available():
        raise KernelError(f"no congestion control named {name!r} is registered")
    r = _bpftool("struct_ops", "unregister", "name", name)
    if r.returncode:
        last = [ln for ln in r.stderr.splitlines() if ln.strip()][-1:] or ["unknown error"]
        raise KernelError(f"bpftool struct_ops unregister name {name} failed: {last[0]}")


def _bss_map(name: str) -> dict | None:
    """The newest ``.bss`` map of the object registered as ``name`` (bpftool JSON), or None."""
    r = _bpftool("-j", "map", "show")
    if r.returncode:
        return None
    want = name[:max(0, 15 - len(".bss"))]
    maps = [m for m in json.loads(r.stdout or "[]")
            if m.get("name", "").endswith(".bss") and want.startswith(m["name"][:-4])
            and m["name"][:-4]]
    return max(maps, key=lambda m: m["id"]) if maps else None


def _dump(map_id: int) -> list:
    d = _bpftool("-j", "map", "dump", "id", str(map_id))
    return json.loads(d.stdout) if not d.returncode and d.stdout else []


def round_counters(name: str) -> dict:
    """The exported program's global counters ``cora_nn_rounds``/``cora_fallback_rounds``
    (rounds decided by the network / by the CUBIC fallback), read from its ``.bss`` map.

    Returns ``{}`` when the map cannot be found.
    """
    m = _bss_map(name)
    if m is None:
        return {}
    out: dict = {}
    for entry in _dump(m["id"]):
        for var in entry.get("formatted", {}).get("value", {}).get(".bss", []):
            out.update(var)
    return out


def observations(name: str, since: int) -> tuple:
    """The rounds the exported controller ``name`` logged after the first ``since`` ones.

    The exported program writes every round's observation into the array map ``cora_obs``
    (:data:`cora.certify.export.OBS_LOG_SLOTS` slots, round-robin) and counts rounds in
    ``cora_obs_n``; this reads the map through ``bpftool map dump`` and returns the newest
    ``min(n - since, slots)`` rounds in order (older ones were overwritten).

    Returns:
        ``(x, proven, cwnd, n)``: observations ``(K, 6)`` as floats (Q16 / 2^16), whether the
        round's cell was proven ``(K,)`` bool, ``snd_cwnd`` before the action ``(K,)``
        packets, and the round count ``n`` (pass it as ``since`` next time).
    Raises:
        KernelError: the controller's maps cannot be found.
    """
    import numpy as np

    m = _bss_map(name)
    if m is None:
        raise KernelError(f"no .bss map of a congestion control named {name!r}")
    progs = _bpftool("-j", "prog", "show")
    obs_id = None
    for p in json.loads(progs.stdout or "[]") if not progs.returncode else []:
        ids = p.get("map_ids", [])
        if m["id"] in ids:
            shown = _bpftool("-j", "map", "show")
            for mm in json.loads(shown.stdout or "[]"):
                if mm["id"] in ids and mm.get("name") == "cora_obs":
                    obs_id = mm["id"]
            break
    if obs_id is None:
        raise KernelError(f"no cora_obs map in the congestion control {name!r}")
    n = int(round_counters(name).get("cora_obs_n", 0))
    rows = {}
    for entry in _dump(obs_id):
        f = entry.get("formatted", {})
        rows[int(f.get("key", 0))] = f.get("value", {})
    slots = len(rows)
    k = max(0, min(n - since, slots))
    order = [(n - k + i) % slots for i in range(k)] if slots else []
    x = np.array([rows[i]["x"] for i in order], float).reshape(-1, 6) / 65536.0
    proven = np.array([bool(rows[i]["mode"]) for i in order], bool)
    cwnd = np.array([rows[i]["cwnd"] for i in order], float)
    return x, proven, cwnd, n


VEGAS_LIKE_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vegas_like.bpf.c")


def load_vegas_like(out_dir: str, name: str) -> str:
    """Build and register the Vegas-like baseline (``vegas_like.bpf.c`` next to this module,
    Brakmo & Peterson 1995; this kernel has no ``tcp_vegas``) under ``name``; returns ``name``.
    Unregister with :func:`unload`.

    Raises:
        InputError: bad name.  EnvironmentProblem: no BTF, clang or bpftool.
        KernelError: already registered, or the kernel refused it.
    """
    from cora.certify.export import check_name, compile_bpf, vmlinux_header
    check_name(name)
    if name in available():
        raise KernelError(f"a congestion control named {name!r} is already registered")
    os.makedirs(out_dir, exist_ok=True)
    vmlinux_header(os.path.join(out_dir, "vmlinux.h"))
    obj = os.path.join(out_dir, f"{name}.bpf.o")
    compile_bpf(VEGAS_LIKE_SRC, obj, include_dir=out_dir, defines={"CC_NAME": name})
    r = _bpftool("struct_ops", "register", obj)
    if r.returncode or name not in available():
        last = [ln for ln in r.stderr.splitlines() if ln.strip()][-1:] or ["unknown error"]
        raise KernelError(f"bpftool struct_ops register {obj} failed: {last[0]}")
    return name


def exported_objects(out_dir: str) -> list:
    """The ``*.bpf.o`` files in ``out_dir``."""
    return sorted(glob.glob(os.path.join(out_dir, "*.bpf.o")))
