"""The hand-written flowcount reference (``refs/flowcount.c`` beside this module): an XDP
program written directly in C from issue 2, section 7, that cora's compiled
``netfuncs/flowcount.nf`` is checked and timed against (``bench/ref_flowcount.py``,
``tests/runtime/test_ref_flowcount.py``). Needs root and bcc.

The flow table is read back as ``{(saddr, daddr, sport, dport, proto): (packets, bytes)}``
with plain ints: IPv4 addresses as the unsigned big-endian value (10.0.0.1 -> 167772161),
ports as numbers, the same form as ``cora run --state-out``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REFS_DIR = Path(__file__).resolve().parent / "refs"
C_SOURCE = REFS_DIR / "flowcount.c"
FLOWS_CAPACITY = 65536
KEY_FMT = "!IIHHB3x"   # saddr, daddr, sport, dport (wire order), proto, padding: 16 bytes
VALUE_FMT = "=QQ"      # packets, bytes (host order u64)

FlowTable = dict[tuple[int, int, int, int, int], tuple[int, int]]


@dataclass
class Reference:
    """A loaded reference program. Close it (or use ``with``) to unload.

    Attributes:
        bpf: the bcc ``BPF`` object; prog_fd: the XDP program fd; flows_fd: the fd of map
        ``flows``.
    """

    bpf: Any                    # bcc's BPF (bcc ships no type information)
    prog_fd: int
    flows_fd: int

    def flows(self) -> FlowTable:
        """The current flow table, decoded (see module docstring)."""
        from cora.runtime.bpf_syscall import map_items
        key_size, value_size = struct.calcsize(KEY_FMT), struct.calcsize(VALUE_FMT)
        table: FlowTable = {}
        for k, v in map_items(self.flows_fd, key_size, value_size):
            assert isinstance(v, bytes), "flows is not per-CPU: one value per key"
            table[struct.unpack(KEY_FMT, k)[:5]] = struct.unpack(VALUE_FMT, v)
        return table

    def close(self) -> None:
        """Unload the program and free its map."""
        self.bpf.cleanup()

    def __enter__(self) -> Reference:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load_reference(plain_add: bool = False) -> Reference:
    """Compile and load testbed/refs/flowcount.c with bcc (~1-2 s).

    Args:
        plain_add: build the single-writer variant (``-DREF_PLAIN_ADD``: plain ``+=``
            instead of atomic adds); same results on one CPU, for timing comparison.

    Raises:
        cora.errors.EnvironmentProblem: bcc missing.
        Exception from bcc: the program does not compile or load (a bug in this file).
    """
    try:
        from bcc import BPF
    except ImportError:
        from cora.errors import EnvironmentProblem
        raise EnvironmentProblem("bcc is missing: run scripts/setup.sh") from None
    cflags = [f"-I{REFS_DIR}"] + (["-DREF_PLAIN_ADD"] if plain_add else [])
    bpf = BPF(src_file=str(C_SOURCE).encode(), cflags=cflags)
    try:
        fn = bpf.load_func(b"ref_flowcount", BPF.XDP)
        return Reference(bpf=bpf, prog_fd=fn.fd, flows_fd=bpf[b"flows"].map_fd)
    except BaseException:
        bpf.cleanup()
        raise


def run_through(ref: Reference, frames: list[bytes]) -> int:
    """Run each frame the kernel can test-run (14 to 73,152 bytes, see
    ``cora.runtime.testrun``) once, in order; returns how many ran.

    Raises:
        cora.errors.KernelError: a frame the kernel refused; or a verdict other than pass
            (the reference passes every frame, anything else is a bug).
    """
    from cora.errors import KernelError
    from cora.runtime.testrun import MAX_XDP_TEST_FRAME_BYTES, MIN_XDP_FRAME_BYTES, run_frames
    usable = [f for f in frames if MIN_XDP_FRAME_BYTES <= len(f) <= MAX_XDP_TEST_FRAME_BYTES]
    for result in run_frames(ref.prog_fd, usable):
        if result.retval != 2:
            raise KernelError(f"reference returned verdict {result.retval}, expected pass (2)")
    return len(usable)


def reference_flows(frames: list[bytes]) -> FlowTable:
    """The flow table the reference builds from ``frames`` run in order on a fresh map.

    Frames shorter than 14 bytes (they would pass uncounted anyway) or longer than 73,152
    bytes (the kernel's test-run limit) cannot run and are left out.

    Returns:
        ``{(saddr, daddr, sport, dport, proto): (packets, bytes)}``, all ints.
    """
    with load_reference() as ref:
        run_through(ref, frames)
        return ref.flows()
