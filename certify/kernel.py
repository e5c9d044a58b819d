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


def round_counters(name: str) -> dict:
    """The exported program's global counters ``cora_nn_rounds``/``cora_fallback_rounds``
    (rounds decided by the network / by the CUBIC fallback), read from its ``.bss`` map.

    Returns ``{}`` when the map cannot be found.
    """
    r = _bpftool("-j", "map", "show")
    if r.returncode:
        return {}
    want = name[:max(0, 15 - len(".bss"))]
    maps = [m for m in json.loads(r.stdout or "[]")
            if m.get("name", "").endswith(".bss") and want.startswith(m["name"][:-4])
            and m["name"][:-4]]
    if not maps:
        return {}
    m = max(maps, key=lambda m: m["id"])
    d = _bpftool("-j", "map", "dump", "id", str(m["id"]))
    if d.returncode:
        return {}
    out = {}
    for entry in json.loads(d.stdout):
        for var in entry.get("formatted", {}).get("value", {}).get(".bss", []):
            out.update(var)
    return out


def exported_objects(out_dir: str) -> list:
    """The ``*.bpf.o`` files in ``out_dir``."""
    return sorted(glob.glob(os.path.join(out_dir, "*.bpf.o")))
