"""A three-namespace bottleneck for measuring kernel congestion controls (pyroute2 only).

Topology (names carry a unique per-run prefix; everything is deleted in :meth:`Bottleneck.close`)::

    <p>snd: s0 10.77.0.1/24 --veth-- m0 [<p>mid: user-space delay bridge] m1 --veth-- ...
        ... r0 10.77.0.2/24 :<p>rcv                     (TBF on m1 egress)

- Delay: this kernel has no ``netem``, so a forwarding process in the middle namespace
  bridges frames between ``m0`` and ``m1`` with ``AF_PACKET`` sockets and holds every frame of
  the sender -> receiver direction for ``delay_ms`` (a time-ordered queue, ``select`` with the
  next due time as timeout); the reverse (ACK) direction is forwarded at once. The base RTT
  is therefore ``delay_ms`` plus the forwarding cost (measured: ``ping`` before the run).
- Bottleneck: a Token Bucket Filter (``tbf``) on ``m1``'s egress with ``rate_mbit`` and a
  queue limit of ``buffer_bdp`` bandwidth-delay products (at least 2 full frames), so the
  queue builds in the kernel after the delay stage.
- Checksum and segmentation offloads are off on all four veth ends (pyroute2's ethtool), and
  ``gso_max_size`` is 1500 on ``s0``/``r0``: the bridge copies whole frames, which must carry
  complete checksums and fit the 1500-byte MTU.
"""

from __future__ import annotations

import heapq
import json
import multiprocessing as mp
import os
import re
import select
import socket
import subprocess
import time
from multiprocessing.process import BaseProcess

from cora.errors import EnvironmentProblem

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SND_IP, RCV_IP = "10.77.0.1", "10.77.0.2"


def _in_ns(name):
    from pyroute2 import netns
    return lambda: netns.setns(name)


def _bridge(ns: str, a: str, b: str, delay_s: float, ready) -> None:
    """The delay bridge (runs in a child process inside namespace ``ns``)."""
    from pyroute2 import netns
    netns.setns(ns)
    sa = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sb = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sa.bind((a, 0))
    sb.bind((b, 0))
    for s in (sa, sb):
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    ready.set()
    heap: list[tuple[float, int, bytes]] = []
    seq = 0
    while True:
        now = time.monotonic()
        timeout = max(0.0, heap[0][0] - now) if heap else 0.05
        rd, _, _ = select.select([sa, sb], [], [], timeout)
        for s in rd:
            while True:
                try:
                    data, addr = s.recvfrom(65536)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                if s is sa:
                    seq += 1
                    heapq.heappush(heap, (time.monotonic() + delay_s, seq, data))
                else:
                    try:
                        sa.send(data)
                    except OSError:
                        pass
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            _, _, data = heapq.heappop(heap)
            try:
                sb.send(data)  # through m1's qdisc: the TBF bottleneck
            except OSError:
                pass  # queue full (ENOBUFS): a drop at the bottleneck


OFFLOADS_OFF = ("tx-checksum-ip-generic", "tx-tcp-segmentation", "tx-tcp6-segmentation",
                "tx-generic-segmentation", "rx-gro")


def _no_offloads(ifnames) -> None:
    """Turn off checksum/segmentation offloads (``ethtool -K`` through pyroute2): frames the
    bridge copies with AF_PACKET must carry complete checksums and fit the MTU."""
    from pyroute2.ethtool import Ethtool
    eth = Ethtool()
    try:
        for ifn in ifnames:
            feats = eth.get_features(ifn)
            for name in OFFLOADS_OFF:
                if name in feats.features:
                    feats.features[name].enable = False
            eth.set_features(ifn, feats)
    finally:
        eth.close()


class Bottleneck:
    """Namespaces, veths, TBF and the delay bridge (a context manager).

    Args:
        rate_mbit: bottleneck rate, Mbit/s.  delay_ms: one-way added delay (data direction).
        buffer_bdp: TBF queue limit in BDPs of ``rate_mbit x delay_ms``.
        prefix: namespace prefix (default ``ccb<pid>``).
    Raises:
        EnvironmentProblem: not root, or namespaces/veth/tc could not be created.
    """

    def __init__(self, rate_mbit: float, delay_ms: float, buffer_bdp: float = 1.0, prefix=None):
        self.rate_mbit, self.delay_ms, self.buffer_bdp = rate_mbit, delay_ms, buffer_bdp
        self.prefix = prefix or f"ccb{os.getpid()}"
        self.ns = {k: f"{self.prefix}{k}" for k in ("snd", "mid", "rcv")}
        self.proc: BaseProcess | None = None

    def __enter__(self):
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def _setup(self):
        from pyroute2 import IPRoute, NetNS, netns
        if os.geteuid() != 0:
            raise EnvironmentProblem("the testbed needs root (network namespaces)")
        for n in self.ns.values():
            netns.create(n)
        p = self.prefix
        with IPRoute() as ip:
            ip.link("add", ifname=f"{p}s0", kind="veth", peer=f"{p}m0")
            ip.link("add", ifname=f"{p}r0", kind="veth", peer=f"{p}m1")
            _no_offloads([f"{p}s0", f"{p}r0", f"{p}m0", f"{p}m1"])
            for ifn, ns in ((f"{p}s0", "snd"), (f"{p}m0", "mid"), (f"{p}m1", "mid"),
                            (f"{p}r0", "rcv")):
                idx = ip.link_lookup(ifname=ifn)[0]
                ip.link("set", index=idx, net_ns_fd=self.ns[ns])
        for ns, ifs, addr in (("snd", ["s0"], SND_IP), ("rcv", ["r0"], RCV_IP),
                              ("mid", ["m0", "m1"], None)):
            with NetNS(self.ns[ns]) as ipn:
                lo = ipn.link_lookup(ifname="lo")[0]
                ipn.link("set", index=lo, state="up")
                for short in ifs:
                    idx = ipn.link_lookup(ifname=f"{p}{short}")[0]
                    if addr:
                        ipn.link("set", index=idx, gso_max_size=1500, gro_max_size=1500)
                        ipn.addr("add", index=idx, address=addr, prefixlen=24)
                    ipn.link("set", index=idx, state="up")
        with NetNS(self.ns["mid"]) as ipn:
            idx = ipn.link_lookup(ifname=f"{p}m1")[0]
            bdp_bytes = self.rate_mbit * 1e6 / 8 * self.delay_ms / 1e3
            limit = int(max(self.buffer_bdp * bdp_bytes, 3028))
            burst = int(max(3028, self.rate_mbit * 1e6 / 8 / 1000))  # ~1 ms of tokens
            ipn.tc("add", "tbf", idx, 0x10000, rate=f"{self.rate_mbit}mbit", burst=burst,
                   limit=limit)
        ctx = mp.get_context("fork")
        ready = ctx.Event()
        self.proc = ctx.Process(target=_bridge, daemon=True,
                                args=(self.ns["mid"], f"{p}m0", f"{p}m1", self.delay_ms / 1e3,
                                      ready))
        self.proc.start()
        if not ready.wait(10):
            raise EnvironmentProblem("the delay bridge did not start")

    def close(self):
        """Stop the bridge and delete the namespaces (and with them the veths)."""
        from pyroute2 import netns
        if self.proc is not None and self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
        self.proc = None
        for n in self.ns.values():
            if n in netns.listnetns():
                netns.remove(n)

    def run(self, ns: str, argv: list, **kw) -> subprocess.CompletedProcess:
        """Run a program inside one of the namespaces (``"snd"``, ``"mid"``, ``"rcv"``)."""
        return subprocess.run(argv, preexec_fn=_in_ns(self.ns[ns]), capture_output=True,
                              text=True, **kw)

    def popen(self, ns: str, argv: list) -> subprocess.Popen:
        """Start a program inside a namespace."""
        return subprocess.Popen(argv, preexec_fn=_in_ns(self.ns[ns]), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def qdisc_drops(self) -> int:
        """Packets dropped by the TBF so far."""
        from pyroute2 import NetNS
        with NetNS(self.ns["mid"]) as ipn:
            idx = ipn.link_lookup(ifname=f"{self.prefix}m1")[0]
            for q in ipn.get_qdiscs(index=idx):
                if q.get_attr("TCA_KIND") == "tbf":
                    return int(q.get_attr("TCA_STATS2").get_attr("TCA_STATS_QUEUE")["drops"])
        return 0


_SS_RTT = re.compile(r"\brtt:([\d.]+)/")
_SS_CWND = re.compile(r"\bcwnd:(\d+)")
_SS_MINRTT = re.compile(r"\bminrtt:([\d.]+)")


def flow(bed: Bottleneck, cc: str, seconds: float = 8.0, port: int = 5299) -> dict:
    """One iperf3 flow sender -> receiver with congestion control ``cc``.

    Throughput comes from iperf3's JSON (receiver side); RTT and cwnd are sampled every
    0.2 s from ``ss -tin`` in the sender namespace (the kernel's smoothed RTT of the flow).

    Returns:
        ``{"cc", "throughput_mbit", "min_rtt_ms", "rtt_ms_mean", "rtt_ms_p95", "cwnd_mean",
        "retransmits", "tbf_drops", "samples"}``.
    """
    drops0 = bed.qdisc_drops()
    srv = bed.popen("rcv", ["iperf3", "-s", "-1", "-B", RCV_IP, "-p", str(port)])
    try:
        time.sleep(0.5)
        cli = bed.popen("snd", ["iperf3", "-c", RCV_IP, "-p", str(port), "-t", str(seconds),
                                "-C", cc, "-J", "-O", "1"])
        rtts, cwnds, minrtts = [], [], []
        t0 = time.time()
        while cli.poll() is None and time.time() - t0 < seconds + 20:
            time.sleep(0.2)
            ss = bed.run("snd", ["ss", "-tin", "dst", RCV_IP, "dport", "=", str(port)], timeout=10)
            block = ss.stdout
            # the two patterns are matched independently, so their counts can differ: pair in order
            for m_r, m_c in zip(_SS_RTT.finditer(block), _SS_CWND.finditer(block), strict=False):
                rtts.append(float(m_r.group(1)))
                cwnds.append(int(m_c.group(1)))
            minrtts += [float(m.group(1)) for m in _SS_MINRTT.finditer(block)]
        out, err = cli.communicate(timeout=30)
    finally:
        if srv.poll() is None:
            srv.terminate()
        srv.communicate(timeout=10)
    try:
        res = json.loads(out)
    except ValueError:
        raise EnvironmentProblem(f"iperf3 failed: {(err or out).strip()[:200]}") from None
    if "error" in res:
        raise EnvironmentProblem(f"iperf3 failed: {res['error']}")
    end = res["end"]
    import numpy as np
    r = np.array(rtts) if rtts else np.array([np.nan])
    return {"cc": cc, "throughput_mbit": round(end["sum_received"]["bits_per_second"] / 1e6, 3),
            "min_rtt_ms": round(min(minrtts), 2) if minrtts else None,
            "rtt_ms_mean": round(float(np.mean(r)), 2),
            "rtt_ms_p95": round(float(np.percentile(r, 95)), 2),
            "cwnd_mean": round(float(np.mean(cwnds)), 1) if cwnds else None,
            "retransmits": end["sum_sent"].get("retransmits"), "samples": len(rtts),
            "tbf_drops": bed.qdisc_drops() - drops0}
