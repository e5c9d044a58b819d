"""The host-fed clock of a NIC stage: a process that writes the time into a pinned map.

A NIC without a clock helper (the Agilio's nfp offload has no ``bpf_ktime_get_ns``) reads
``now()`` from a one-entry array, ``cora_nic_clock`` (:data:`cora.compiler.offload.split.
CLOCK_STATE`), which the host writes every ``host_clock_period_ns`` of the NIC's stage model
(:attr:`cora.compiler.offload.stage_model.StageModel.host_clock_period_ns`; 1 ms for
Agilio). The value is CLOCK_MONOTONIC in ns, the clock ``bpf_ktime_get_ns`` reads, so the
NIC's ``now()`` is the host stage's ``now()`` delayed by at most one period plus one map
write. On a real Agilio each write is a control message to the firmware (nfp/bpf/cmsg.c);
here the NIC stage is emulated by XDP and the write is an ordinary ``BPF_MAP_UPDATE_ELEM``.

:func:`start` runs the feeder as a detached process (``python -m cora.runtime.clock_feed MAP
PERIOD_NS``) for ``cora deploy --plan`` and the runtime daemon; it lives as long as the
deployment: it stops by itself when the deployment's pin directory is gone (``cora
undeploy``), and :func:`stop` ends it at once. It opens the pinned map anew at every tick,
so a hot swap that replaces the program (and keeps or re-pins the map) is followed, and a
tick that finds no map (a plan whose NIC stage does not read the clock) writes nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

#: key 0 of the clock array, u32 little-endian (the host's byte order on x86 and Arm)
_SLOT0 = (0).to_bytes(4, "little")


def write_clock(map_path: str | Path) -> int:
    """Write CLOCK_MONOTONIC now (ns) into slot 0 of the pinned clock array at
    ``map_path``. Returns the value written. Raises KernelError (or OSError) when the map
    cannot be opened or written."""
    from cora.runtime import bpf_syscall

    value = time.monotonic_ns()
    fd = bpf_syscall.obj_get(str(map_path))
    try:
        bpf_syscall.map_update(fd, _SLOT0, value.to_bytes(8, "little"))
    finally:
        os.close(fd)
    return value


def seed_clock(program, state: str | None) -> None:
    """Give the clock state ``state`` of ``program`` (a NIC stage program; None: nothing
    to do) the current CLOCK_MONOTONIC time as its initial entry, which is loaded with a
    new map, so the clock is right from the first frame until the feeder's first tick. A
    map kept by a hot swap keeps its value instead."""
    if state is not None:
        program.state(state).init = (((0,), (time.monotonic_ns(),)),)


def read_clock(map_path: str | Path) -> int | None:
    """Slot 0 of the pinned clock array at ``map_path`` (ns), or None when it is not there."""
    from cora.errors import CoraError
    from cora.runtime import bpf_syscall

    try:
        fd = bpf_syscall.obj_get(str(map_path))
    except (CoraError, OSError):
        return None
    try:
        raw = bpf_syscall.map_lookup(fd, _SLOT0, 8)
    finally:
        os.close(fd)
    return None if not isinstance(raw, bytes) else int.from_bytes(raw, "little")


def feed(map_path: str | Path, period_ns: int) -> int:
    """Write the clock every ``period_ns`` until the map's deployment directory (two levels
    up: ``<deployment>/maps/<map>``) is gone. Ticks are scheduled on the monotonic clock (a
    late tick does not shift the later ones). Returns the number of writes made."""
    from cora.errors import CoraError

    map_path = Path(map_path)
    deployment = map_path.parent.parent
    writes = 0
    next_ns = time.monotonic_ns()
    while deployment.exists():
        try:
            write_clock(map_path)
            writes += 1
        except (CoraError, OSError):
            pass  # no clock map (yet, or in this plan): nothing to feed this tick
        next_ns += period_ns
        delay = next_ns - time.monotonic_ns()
        if delay > 0:
            time.sleep(delay / 1e9)  # the feeder's period, not a wait for a condition
        else:
            next_ns = time.monotonic_ns()  # fell behind (a loaded machine): start afresh
    return writes


def start(map_path: str | Path, period_ns: int) -> int:
    """Start the feeder of ``map_path`` as a detached process (its own session, no
    terminal; it outlives the command that starts it). Returns its pid."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cora.runtime.clock_feed", str(map_path), str(int(period_ns))],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True)
    return proc.pid


def is_feeder(pid: int, map_path: str | Path | None = None) -> bool:
    """Whether ``pid`` is a running clock feeder (of ``map_path``, when given)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if b"cora.runtime.clock_feed" not in argv:
        return False
    return map_path is None or str(map_path).encode() in argv


def stop(pid: int, map_path: str | Path | None = None) -> bool:
    """End the feeder ``pid`` (SIGTERM) if it is one (of ``map_path``); True if signalled.
    A pid that is gone or belongs to another process is left alone."""
    if not is_feeder(pid, map_path):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # our own child (a daemon's feeder): reap it if it ended
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m cora.runtime.clock_feed MAP_PATH PERIOD_NS``: feed until undeployed."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[1].isdigit() or int(args[1]) <= 0:
        print("usage: python -m cora.runtime.clock_feed MAP_PATH PERIOD_NS (> 0)",
              file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        feed(args[0], int(args[1]))
    except KeyboardInterrupt:
        return 130
    return 0


__all__ = ["feed", "is_feeder", "main", "read_clock", "seed_clock", "start", "stop",
           "write_clock"]

if __name__ == "__main__":
    sys.exit(main())
