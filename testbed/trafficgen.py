"""A traffic generator on BPF_PROG_TEST_RUN's live-frames mode, and an XDP receive counter.

How it sends (shared/MACHINE.md; kernel Documentation/bpf/bpf_prog_run.rst, "live frames"):
a tiny XDP program returns ``XDP_TX`` and ``BPF_PROG_TEST_RUN`` is called with
``BPF_F_TEST_XDP_LIVE_FRAMES`` and ``ctx_in.ingress_ifindex`` = the sending veth, from a
thread inside the sender's namespace (the kernel resolves the ifindex there). The kernel
then builds real frames and transmits them out of that veth; they arrive on the peer.

Cycling through many different frames: each live-frames call costs ~15-25 ms of set-up here
(measured), so one call per frame would be slow. Instead the frames are stored as templates
in an array map and the generator program itself copies template ``i mod N`` into each
frame (``bpf_xdp_adjust_tail`` to its length, then ``bpf_xdp_store_bytes``), ``i`` being a
shared counter; a call with ``repeat = k`` therefore sends the next ``k`` frames of the
cycle (with a single frame the program just returns XDP_TX on the frame user space
passed, the fastest path). Templates are at most :data:`MAX_FRAME_BYTES` long (a full-size Ethernet
frame without FCS); longer frames are left out and counted in ``frames_skipped``.

Receiving: a veth only accepts frames sent this way when its peer end runs an XDP program
(or has GRO on). :class:`RxCounter` is such a program: it counts frames and bytes per CPU
and drops (or passes) them. ``frames_sent`` is what the kernel generated; what arrived is
what a counter on the peer saw.
"""

from __future__ import annotations

import ctypes
import random
import struct
import time
from dataclasses import dataclass

from cora.errors import EnvironmentProblem, InputError
from cora.runtime import bpf_syscall as bs
from cora.runtime.attach import attach_xdp, detach_xdp

#: Longest frame a template holds: 1514 bytes = 1500-byte MTU + 14-byte Ethernet header.
MAX_FRAME_BYTES = 1514
#: Most templates per generator (array map entries of 2052 bytes: 8.4 MB of map memory).
MAX_TEMPLATES = 4096
#: Frames per rate-controlled call are sized for this interval (s); see send().
RATE_INTERVAL_S = 0.1
MIN_FRAME_BYTES = 14

_GEN_SRC = r"""
#include <uapi/linux/bpf.h>
#define SLOT 2048                    /* power of two >= MAX_FRAME_BYTES, see below */
struct tmpl { u32 len; u8 data[SLOT]; };
BPF_ARRAY(templates, struct tmpl, %(max_templates)d);
BPF_ARRAY(state, u64, 2);            /* [0] frames generated, [1] number of templates */

int cora_gen_tx(struct xdp_md *ctx)
{
    u32 k0 = 0, k1 = 1;
    u64 *pos = state.lookup(&k0);
    u64 *n = state.lookup(&k1);
    if (!pos || !n || *n == 0)
        return XDP_ABORTED;
    u64 nn = *n;
    u64 seq = __sync_fetch_and_add(pos, 1);
    if (nn == 1)                     /* one template: user space passed it as the frame */
        return XDP_TX;
    u32 i = seq %% nn;
    struct tmpl *t = templates.lookup(&i);
    if (!t)
        return XDP_ABORTED;
    /* the verifier must see 1 <= len <= SLOT on the register passed to store_bytes;
       a mask keeps that bound where range checks get folded away by clang. Python
       stores only lengths 14..1514, so this is the identity for every real template. */
    u32 len = ((t->len - 1) & (SLOT - 1)) + 1;
    int cur = ctx->data_end - ctx->data;
    if (cur != len && bpf_xdp_adjust_tail(ctx, (int)len - cur))
        return XDP_ABORTED;
    if (bpf_xdp_store_bytes(ctx, 0, t->data, len))
        return XDP_ABORTED;
    return XDP_TX;
}
"""

_RX_SRC = r"""
#include <uapi/linux/bpf.h>
struct rxc { u64 packets; u64 bytes; };
BPF_PERCPU_ARRAY(rx, struct rxc, 1);
int cora_rx_count(struct xdp_md *ctx)
{
    u32 z = 0;
    struct rxc *c = rx.lookup(&z);
    if (c) {
        c->packets += 1;
        c->bytes += ctx->data_end - ctx->data;
    }
    return %(verdict)s;
}
"""


def _bcc():
    try:
        from bcc import BPF
    except ImportError:
        raise EnvironmentProblem("bcc is missing: run scripts/setup.sh") from None
    return BPF


@dataclass(frozen=True)
class SendReport:
    """What one :meth:`TrafficGen.send` did.

    Attributes:
        frames_sent: frames the kernel generated and handed to the veth (XDP_TX).
        seconds: wall time of the send, s.
        rate_mpps: frames_sent / seconds / 1e6 (generated rate, millions of frames/s).
        frames_skipped: input frames left out of the cycle (shorter than 14 or longer
            than :data:`MAX_FRAME_BYTES` bytes).
        calls: live-frames syscalls made.
    """

    frames_sent: int
    seconds: float
    rate_mpps: float
    frames_skipped: int = 0
    calls: int = 0


class TrafficGen:
    """Sends frames out of ``ifname`` in namespace ``netns`` with live-frames XDP.

    Loads the generator program (bcc, ~1-2 s); nothing is attached to any interface, so
    there is nothing to detach; :meth:`close` (or ``with``) unloads it.

    Args:
        ifname: the sending interface (one end of a veth pair).
        netns: its namespace (None = this process's).

    Raises:
        EnvironmentProblem: bcc missing, no such namespace or interface.
    """

    def __init__(self, ifname: str, netns: str | None = None):
        from cora.testbed.topology import in_netns
        self.ifname, self.netns = ifname, netns
        with in_netns(netns):
            try:
                self.ifindex = _if_nametoindex(ifname)
            except OSError:
                where = f"namespace {netns}" if netns else "the root namespace"
                check = f"ip -n {netns} link" if netns else "ip link"
                raise EnvironmentProblem(f"no interface {ifname} in {where}: check "
                                         f"`{check}`") from None
        BPF = _bcc()
        self._bpf = BPF(text=_GEN_SRC % {"max_templates": MAX_TEMPLATES})
        try:
            self.prog_fd = self._bpf.load_func(b"cora_gen_tx", BPF.XDP).fd
            self._templates_fd = self._bpf[b"templates"].map_fd
            self._state_fd = self._bpf[b"state"].map_fd
        except BaseException:
            self._bpf.cleanup()
            raise
        self._frame_len = 0
        self._n_templates = 0
        self._single: bytes | None = None
        self._skipped = 0

    def load_frames(self, frames: list[bytes]) -> int:
        """Store the frames to cycle through (up to :data:`MAX_TEMPLATES`); returns how
        many were left out (too short or too long).

        Raises:
            InputError: no usable frame, or more than MAX_TEMPLATES usable frames.
        """
        usable = [bytes(f) for f in frames if MIN_FRAME_BYTES <= len(f) <= MAX_FRAME_BYTES]
        if not usable:
            raise InputError(f"no frame between {MIN_FRAME_BYTES} and {MAX_FRAME_BYTES} "
                             "bytes to send")
        if len(usable) > MAX_TEMPLATES:
            raise InputError(f"{len(usable)} frames to cycle through; the generator holds "
                             f"at most {MAX_TEMPLATES}: sample them first")
        leaf_bytes = ctypes.sizeof(self._bpf[b"templates"].Leaf)
        for i, frame in enumerate(usable):
            value = (struct.pack("<I", len(frame)) + frame).ljust(leaf_bytes, b"\0")
            bs.map_update(self._templates_fd, struct.pack("<I", i), value)
        bs.map_update(self._state_fd, struct.pack("<I", 0), struct.pack("<Q", 0))
        bs.map_update(self._state_fd, struct.pack("<I", 1), struct.pack("<Q", len(usable)))
        self._frame_len = max(len(f) for f in usable)
        self._n_templates = len(usable)
        self._single = usable[0] if len(usable) == 1 else None
        self._skipped = len(frames) - len(usable)
        return self._skipped

    def generated(self) -> int:
        """Frames the generator program has produced since the last :meth:`load_frames`."""
        value = bs.map_lookup(self._state_fd, struct.pack("<I", 0), 8)
        assert not isinstance(value, list), "state is not per-CPU"
        return struct.unpack("<Q", value)[0] if value else 0

    def send(self, frames: list[bytes] | None = None, count: int | None = None,
             rate_pps: float | None = None, seconds: float | None = None,
             batch_size: int = 0) -> SendReport:
        """Send frames, cycling through ``frames`` in order, for real out of the interface.

        Args:
            frames: frames to cycle through (None: those of the previous call).
            count: frames to send in total; default: ``rate_pps * seconds`` if both are
                given, else unlimited when ``seconds`` is given, else one pass over frames.
            rate_pps: target rate, frames/s (None: as fast as possible). Paced per batch:
                each call sends ``rate_pps * 0.1 s`` frames, then sleeps until that
                batch's due time; so the rate holds on average, with bursts within calls.
            seconds: stop starting new calls after this much time.
            batch_size: frames per kernel batch (0 = kernel default, 64).

        Returns:
            :class:`SendReport`.

        Raises:
            InputError: no frames, or a bad count/rate.
            KernelError: the kernel refused the live-frames run.
        """
        from cora.testbed.topology import in_netns
        if frames is not None:
            self.load_frames(frames)
        if not self._frame_len:
            raise InputError("no frames loaded to send")
        if rate_pps is not None and rate_pps <= 0:
            raise InputError("rate_pps must be positive")
        if count is None:
            if rate_pps is not None and seconds is not None:
                count = int(rate_pps * seconds)
            elif seconds is None:
                count = self._n_templates
        if count is not None and count < 0:
            raise InputError("count must be >= 0")
        chunk = max(1, int(rate_pps * RATE_INTERVAL_S)) if rate_pps else 1 << 20
        chunk = min(chunk, (1 << 31) - 1)
        # one template: send it as is; several: the program rewrites every byte it sends
        base = self._single if self._single is not None else bytes(self._frame_len)
        sent = calls = 0
        start = time.perf_counter()
        with in_netns(self.netns):
            while count is None or sent < count:
                now = time.perf_counter()
                if seconds is not None and now - start >= seconds:
                    break
                n = chunk if count is None else min(chunk, count - sent)
                bs.xdp_live_frames(self.prog_fd, base, self.ifindex, repeat=n,
                                   batch_size=batch_size)
                sent += n
                calls += 1
                if rate_pps:
                    due = start + sent / rate_pps
                    delay = due - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
        elapsed = time.perf_counter() - start
        return SendReport(frames_sent=sent, seconds=elapsed,
                          rate_mpps=sent / elapsed / 1e6 if elapsed > 0 else 0.0,
                          frames_skipped=self._skipped, calls=calls)

    def close(self) -> None:
        """Unload the generator program."""
        self._bpf.cleanup()

    def __enter__(self) -> TrafficGen:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _if_nametoindex(ifname: str) -> int:
    import socket
    return socket.if_nametoindex(ifname)


class RxCounter:
    """An XDP program on ``ifname`` (in ``netns``) that counts arriving frames and bytes.

    Per-CPU counters (no atomics on the receive path); :meth:`read` sums them. Attached
    in native mode on creation, detached and unloaded by :meth:`close` (or ``with``).

    Args:
        ifname, netns: where to attach.
        verdict: ``"drop"`` (default: count and discard) or ``"pass"`` (count and hand the
            frame to the kernel stack).
        mode: ``"native"`` or ``"generic"``.

    Raises:
        EnvironmentProblem: no such namespace/interface, bcc missing.
        KernelError: the attach was refused (e.g. another program is attached).
    """

    def __init__(self, ifname: str, netns: str | None = None, verdict: str = "drop",
                 mode: str = "native"):
        if verdict not in ("drop", "pass"):
            raise InputError(f"RxCounter verdict must be drop or pass, not {verdict!r}")
        BPF = _bcc()
        self.ifname, self.netns = ifname, netns
        self._bpf = BPF(text=_RX_SRC % {"verdict": "XDP_DROP" if verdict == "drop"
                                        else "XDP_PASS"})
        self.prog_id = None
        try:
            fd = self._bpf.load_func(b"cora_rx_count", BPF.XDP).fd
            self._map_fd = self._bpf[b"rx"].map_fd
            self.prog_id = attach_xdp(fd, ifname, netns, mode=mode)
        except BaseException:
            self._bpf.cleanup()
            raise

    def read(self) -> tuple[int, int]:
        """``(packets, bytes)`` counted so far, summed over CPUs (bytes = linear frame
        length as XDP sees it)."""
        values = bs.map_lookup(self._map_fd, struct.pack("<I", 0), 16, percpu=True)
        assert isinstance(values, list), "a per-CPU array slot: one value per CPU, always present"
        packets = sum(struct.unpack("<QQ", v)[0] for v in values)
        nbytes = sum(struct.unpack("<QQ", v)[1] for v in values)
        return packets, nbytes

    def wait_for(self, packets: int, timeout_s: float = 5.0) -> int:
        """Wait until at least ``packets`` were counted or ``timeout_s`` passed (frames
        still in flight in the veth ring); returns the final count."""
        deadline = time.monotonic() + timeout_s
        got = self.read()[0]
        while got < packets and time.monotonic() < deadline:
            time.sleep(0.01)
            got = self.read()[0]
        return got

    def close(self) -> None:
        """Detach (only our program) and unload."""
        try:
            if self.prog_id is not None:
                detach_xdp(self.ifname, self.netns, prog_id=self.prog_id)
        finally:
            self._bpf.cleanup()

    def __enter__(self) -> RxCounter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def synthetic_flows(n_flows: int, size_bytes: int = 64, proto: str = "udp", seed: int = 0,
                    src_mac: str = "02:00:00:00:00:01", dst_mac: str = "02:00:00:00:00:02",
                    dst_net: str = "10.211.0.0/16") -> list[bytes]:
    """One frame per flow: Ethernet/IPv4/UDP or TCP with random 5-tuples (scapy).

    Args:
        n_flows: number of distinct flows (frames), >= 1.
        size_bytes: frame length without FCS (>= 42 for UDP, 54 for TCP; zero-padded).
        proto: ``"udp"`` or ``"tcp"`` (TCP frames are SYNs).
        seed: random seed (same seed, same frames).
        src_mac, dst_mac: Ethernet addresses (explicit, so scapy never resolves them).
        dst_net: destination addresses are drawn from this prefix; sources from 10.0.0.0/8.

    Returns:
        ``n_flows`` frames (bytes), each ``size_bytes`` long.

    Raises:
        InputError: bad sizes or protocol.
    """
    import ipaddress

    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether
    if proto not in ("udp", "tcp"):
        raise InputError(f"synthetic flows: protocol {proto!r} is not udp or tcp")
    min_size = 42 if proto == "udp" else 54
    if not min_size <= size_bytes <= MAX_FRAME_BYTES:
        raise InputError(f"synthetic flows: size {size_bytes} outside {min_size}.."
                         f"{MAX_FRAME_BYTES} bytes for {proto}")
    if n_flows < 1:
        raise InputError("synthetic flows: n_flows must be >= 1")
    rng = random.Random(seed)
    net = ipaddress.ip_network(dst_net)
    seen: set[tuple] = set()
    frames: list[bytes] = []
    while len(frames) < n_flows:
        src = str(ipaddress.ip_address(0x0A000000 | rng.getrandbits(24)))
        dst = str(net[rng.randrange(1, max(2, net.num_addresses - 1))])
        sport, dport = rng.randrange(1024, 65536), rng.randrange(1, 65536)
        key = (src, dst, sport, dport)
        if key in seen:
            continue
        seen.add(key)
        l4 = UDP(sport=sport, dport=dport) if proto == "udp" else \
            TCP(sport=sport, dport=dport, flags="S", seq=rng.getrandbits(32))
        pkt = Ether(src=src_mac, dst=dst_mac) / IP(src=src, dst=dst, ttl=64) / l4
        raw = bytes(pkt)
        payload = b"\0" * (size_bytes - len(raw))
        frames.append(bytes(Ether(src=src_mac, dst=dst_mac) / IP(src=src, dst=dst, ttl=64)
                            / l4 / payload))
    return frames
