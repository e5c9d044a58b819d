"""netfuncs/ina.nf, the aggregator written in cora's language, against the reference
aggregator cora.ina.ps.SlotPool.handle (the spec) and, in the kernel, against the
interpreter, on aggregation traffic of two jobs: complete chunks, retransmissions before
and after completion, duplicates, shadow-copy reuse, int32 overflow, OR-reduced chunks
(FLAG_OR: LHC's support bitmaps) between dense ones in the same job, and each error case
(unknown job, wrong worker count, slot outside the allocation, chunk size mismatch,
reduction mismatch), plus malformed and result packets. What the reference sends to every
worker of the job (results, size and reduction mismatches) the NF multicasts to the
`workers` group (one copy per port, each the reference's datagram byte for byte); what the
reference sends to the sender only, the NF sends back (tx). Every answer is addressed to
broadcast, from the aggregator, to the sender's UDP source port."""

import random

import numpy as np
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from cora.compiler.interp import Interpreter
from cora.ina import protocol as P
from cora.ina.ps import SlotPool
from cora.testbed.ina_topology import ina_nf_program

#: the control plane's allocation, as the NF's initial jobs entries and as SlotPool.allocate
JOBS = {1: (4, 3), 2: (2, 2)}  # job -> (slots, workers); bases 0 and 4 in both


def ina_program():
    """ina.nf with the jobs of :data:`JOBS` loaded as initial entries."""
    return ina_nf_program(JOBS)


def reference_pool() -> SlotPool:
    pool = SlotPool(1024)
    for job, (slots, workers) in JOBS.items():
        pool.allocate(job, slots, workers)
    return pool


def frame(worker: int, payload: bytes) -> bytes:
    """The datagram from worker ``worker`` (10.0.0.<worker+1>) to the aggregator."""
    return bytes(Ether(src=f"02:00:00:00:00:{worker + 1:02x}", dst="02:00:00:00:00:ff")
                 / IP(src=f"10.0.0.{worker + 1}", dst="10.0.0.254")
                 / UDP(sport=40000 + worker, dport=P.UDP_PORT) / payload)


def aggregation_traffic(seed: int = 3, chunks: int = 12) -> list[tuple[int, bytes]]:
    """(worker, INA payload) in arrival order, with the protocol's irregular cases."""
    rng = random.Random(seed)
    out: list[tuple[int, bytes]] = []
    big = np.int32(2**31 - 1)
    for c in range(chunks):
        job = 1 if c % 3 else 2
        slots, n = JOBS[job]
        slot, copy = c % slots, (c // slots) % 2
        offset, total = c * P.K, chunks * P.K
        op = P.FLAG_OR if c % 4 == 2 else 0     # every fourth chunk: bitmaps, OR-reduced
        per_worker = []
        for w in range(n):
            if op:                              # any 32 bits, the sign bit too
                vals = np.array([rng.getrandbits(32) for _ in range(P.K)],
                                np.uint32).view(np.int32)
            else:
                vals = np.array([rng.randrange(-1000, 1000) for _ in range(P.K)], np.int32)
            if c == 5:
                vals[7] = big                   # overflows the int32 sum
            if c == 10 and op:
                vals[7] = big                   # would overflow a sum; an OR never does
            per_worker.append(P.encode(job, slot, copy, offset, total, w, n, vals, flags=op))
        order = list(range(n))
        rng.shuffle(order)
        for k, w in enumerate(order):
            out.append((w, per_worker[w]))
            if rng.random() < 0.3:              # a retransmission before completion
                out.append((w, P.encode(job, slot, copy, offset, total, w, n,
                                        P.values_of(per_worker[w]).astype(np.int32),
                                        flags=P.FLAG_RETRANSMIT | op)))
            if k == 0 and c == 4:               # another worker's chunk size disagrees
                other = order[1]
                out.append((other, P.encode(job, slot, copy, offset + 1, total, other, n,
                                            None)))
            if k == 0 and c in (6, 9):          # another worker's reduction disagrees
                other = order[1]
                out.append((other, P.encode(job, slot, copy, offset, total, other, n,
                                            None, flags=P.FLAG_OR - op)))
        late = rng.randrange(n)                 # a retransmitted request after completion
        out.append((late, P.encode(job, slot, copy, offset, total, late, n,
                                   P.values_of(per_worker[late]).astype(np.int32),
                                   flags=P.FLAG_RETRANSMIT | op)))
    out.append((0, P.encode(9, 0, 0, 0, 1, 0, 1, None)))                       # unknown job
    out.append((0, P.encode(1, 0, 0, 0, 1, 0, 2, None)))                       # wrong n
    out.append((0, P.encode(2, 5, 0, 0, 1, 0, 2, None)))                       # bad slot
    out.append((0, P.encode(1, 0, 0, 0, 1, 0, 3, None, flags=P.FLAG_RESULT)))  # ignored
    out.append((1, P.encode(1, 0, 0, 0, 1, 1, 3, None)[:-4]))                  # malformed
    return out


#: the ifindexes of the worker ports in the `workers` group (interpreter only: any numbers)
PORTS = [11, 12, 13, 14]


def test_ina_nf_answers_as_the_reference_aggregator():
    """Every datagram: the NF drops it exactly when SlotPool.handle sends nothing; sends
    one copy to every group port when the reference sends to every worker of the job (more
    than one address), else back to the sender only; each copy carries the reference's
    datagram byte for byte (result values and flags, overflow, errors)."""
    it = Interpreter(ina_program())
    it.set_group("workers", PORTS)
    pool = reference_pool()
    replies = results = overflowed = or_results = multicasts = 0
    op_mismatches = 0
    for n, (w, payload) in enumerate(aggregation_traffic()):
        addr = (f"10.0.0.{w + 1}", 40000 + w)
        expected = pool.handle(payload, addr)
        out = it.run(frame(w, payload), ingress_ifindex=PORTS[w])
        if not expected:
            assert out.verdict == "drop", n
            continue
        to_sender = [d for d, a in expected if a == addr]
        assert to_sender and all(d == to_sender[0] for d, _ in expected), n
        if len(expected) > 1:               # to every worker of the job: multicast
            assert out.verdict == "multicast", (n, out.verdict, expected)
            assert [port for port, _ in out.outputs] == PORTS
            frames = [f for _, f in out.outputs]
            multicasts += 1
        else:
            assert out.verdict == "tx", (n, out.verdict, expected)
            frames = [out.frame]
        for f in frames:
            assert f[42:] == to_sender[0], n
            # addressed to every worker: broadcast, from the aggregator's address and port
            # to the sender's source port
            assert f[:6] == b"\xff" * 6 and f[6:12] == bytes.fromhex("0200000000ff")
            assert f[26:30] == bytes([10, 0, 0, 254]) and f[30:34] == b"\xff" * 4
            assert int.from_bytes(f[34:36], "big") == P.UDP_PORT
            assert int.from_bytes(f[36:38], "big") == 40000 + w
        replies += 1
        results += bool(to_sender[0][3] & P.FLAG_RESULT)
        overflowed += bool(to_sender[0][3] & P.FLAG_OVERFLOW)
        or_results += bool(to_sender[0][3] & P.FLAG_RESULT and to_sender[0][3] & P.FLAG_OR)
        op_mismatches += to_sender[0][3] == P.FLAG_ERROR and \
            to_sender[0][10] == P.ERR_OP_MISMATCH
    # the traffic reaches every case: completions, retransmitted results, duplicates, the
    # int32 overflow flag, and the four error codes
    assert pool.stats["results"] >= 10 and pool.stats["retransmitted_results"] >= 10
    assert pool.stats["duplicates_dropped"] > 0 and pool.stats["malformed"] == 1
    assert pool.stats["ignored"] == 1 and pool.stats["errors"] >= 4
    # one reply per error case: four, and the two reduction mismatches
    assert overflowed > 0 and replies - results == 6 and op_mismatches == 2
    assert or_results >= 3                  # OR results, first and retransmitted
    # every completion (and the size and reduction mismatches) went to every port
    assert multicasts == pool.stats["results"] + 3


@pytest.mark.kernel
@pytest.mark.long  # bcc needs minutes for ina.nf's unrolled 256-value loops: `make test-long`
def test_ina_nf_kernel_equals_interpreter_on_the_traffic(bcc_module):
    from cora.runtime.engine import InterpEngine, KernelEngine
    from cora.runtime.run import run_frames

    program = ina_program()
    trace = [(n * 1000, frame(w, p)) for n, (w, p) in enumerate(aggregation_traffic())]
    with KernelEngine(program) as k, InterpEngine(program) as i:
        report = run_frames(program, trace, engine="both", engines=(k, i))
    assert report.mismatches == 0, [(d.index, d.what, d.detail) for d in report.details]
    # completions leave by multicast (empty groups in both engines: the verdict is compared),
    # retransmitted results and errors by tx
    assert report.verdicts["multicast"] >= 10 and report.verdicts["tx"] >= 10
    assert report.verdicts["drop"] > 12
