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
- Time-varying bandwidth: :meth:`Bottleneck.set_rate` changes the TBF's rate in place
  (``tc qdisc change``, pyroute2) while flows run; :func:`flows` applies a schedule
  (:func:`step_trace`, :func:`cellular_trace`, generated in code).
- Competing flows: :func:`flows` starts several iperf3 flows together (one port each) and
  samples each connection's RTT/cwnd; :func:`jain_index` scores the shares.
- Random loss is not here (this module must not import the runtime): bench/certify_testbed.py
  deploys ``testbed/nf/drop_fraction.nf`` (``rand()``) on the receiver's interface.
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


def _bridge(ns: str, a: str, b: str, delay_s: float, ready, rt_priority: int = 0) -> None:
    """The delay bridge (runs in a child process inside namespace ``ns``); ``rt_priority`` > 0
    runs it under ``SCHED_FIFO`` at that priority (it sleeps in ``select`` between frames, and
    the kernel's RT throttling bounds it anyway), so other jobs on a loaded machine do not
    delay its forwarding."""
    from pyroute2 import netns
    netns.setns(ns)
    if rt_priority > 0:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt_priority))
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
        bridge_rt_priority: ``SCHED_FIFO`` priority of the delay bridge (0: normal scheduling).
    Raises:
        EnvironmentProblem: not root, or namespaces/veth/tc could not be created.
    """

    def __init__(self, rate_mbit: float, delay_ms: float, buffer_bdp: float = 1.0, prefix=None,
                 bridge_rt_priority: int = 0):
        self.rate_mbit, self.delay_ms, self.buffer_bdp = rate_mbit, delay_ms, buffer_bdp
        self.bridge_rt_priority = int(bridge_rt_priority)
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
        self._tbf("add", self.rate_mbit)
        ctx = mp.get_context("fork")
        ready = ctx.Event()
        self.proc = ctx.Process(target=_bridge, daemon=True,
                                args=(self.ns["mid"], f"{p}m0", f"{p}m1", self.delay_ms / 1e3,
                                      ready, self.bridge_rt_priority))
        self.proc.start()
        if not ready.wait(10):
            raise EnvironmentProblem("the delay bridge did not start")

    def _tbf(self, cmd: str, rate_mbit: float) -> None:
        """Add or change the TBF on ``m1``: ``rate_mbit``; the queue limit stays
        ``buffer_bdp`` BDPs of the *configured* rate (:attr:`rate_mbit`) so that a rate change
        does not resize the buffer; burst ~1 ms of tokens (at least 2 frames)."""
        from pyroute2 import NetNS
        with NetNS(self.ns["mid"]) as ipn:
            idx = ipn.link_lookup(ifname=f"{self.prefix}m1")[0]
            bdp_bytes = self.rate_mbit * 1e6 / 8 * self.delay_ms / 1e3
            limit = int(max(self.buffer_bdp * bdp_bytes, 3028))
            burst = int(max(3028, rate_mbit * 1e6 / 8 / 1000))
            ipn.tc(cmd, "tbf", idx, 0x10000, rate=f"{int(round(rate_mbit * 1000))}kbit",
                   burst=burst, limit=limit)

    def set_rate(self, rate_mbit: float) -> None:
        """Change the bottleneck rate now (``tc qdisc change ... tbf``, through pyroute2);
        the buffer keeps its size in bytes. Raises EnvironmentProblem when tc refuses."""
        from pyroute2.netlink.exceptions import NetlinkError
        if not rate_mbit > 0:
            raise ValueError(f"rate {rate_mbit} Mbit/s must be positive")
        try:
            self._tbf("change", rate_mbit)
        except NetlinkError as exc:
            raise EnvironmentProblem(f"cannot change the TBF rate: {exc}") from None

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


_SS_CONN = re.compile(r"\S+:(\d+)\s+(?:\[?[\d.:a-f]+\]?):(\d+)")
_SS_RTT = re.compile(r"\brtt:([\d.]+)/")
_SS_CWND = re.compile(r"\bcwnd:(\d+)")
_SS_MINRTT = re.compile(r"\bminrtt:([\d.]+)")
_SS_ACKED = re.compile(r"\bbytes_acked:(\d+)")


def parse_ss(text: str) -> dict:
    """Per destination port, the bulk connection's ``(rtt_ms, cwnd, minrtt_ms)`` from
    ``ss -tin`` output (two lines per socket: addresses, then the info line). When several
    sockets share a port (iperf3's control connection and its data connection), the one with
    the most ``bytes_acked`` is taken. Missing fields are None."""
    out: dict = {}
    best: dict = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _SS_CONN.search(line)
        if not m or i + 1 >= len(lines):
            continue
        info = lines[i + 1]
        port = int(m.group(2))
        acked = _SS_ACKED.search(info)
        a = int(acked.group(1)) if acked else 0
        if port in best and best[port] >= a:
            continue
        best[port] = a
        r, c, mr = _SS_RTT.search(info), _SS_CWND.search(info), _SS_MINRTT.search(info)
        out[port] = (float(r.group(1)) if r else None, int(c.group(1)) if c else None,
                     float(mr.group(1)) if mr else None)
    return out


def cellular_trace(seconds: float, rng, mean_mbit: float = 10.0, step_s: float = 0.5,
                   sigma: float = 0.5, rho: float = 0.8, lo_mbit: float = 1.0,
                   hi_mbit: float = 30.0) -> list:
    """A synthetic cellular-like rate schedule: ``[(t_s, rate_mbit), ...]`` every ``step_s``.

    The log rate is a first-order autoregressive process around ``log(mean_mbit)`` (lag-1
    correlation ``rho``, stationary std. dev. ``sigma``), clipped to ``[lo_mbit, hi_mbit]``:
    the shape of measured LTE downlink capacity, which is log-normal-like and correlated over
    hundreds of ms (Winstein et al., "Stochastic Forecasts Achieve High Throughput and Low
    Delay over Cellular Networks" (Sprout), NSDI 2013, Fig. 2). Generated here, no trace file.
    """
    n = max(1, int(seconds / step_s))
    z = rng.standard_normal(n)
    v = [0.0] * n
    v[0] = sigma * z[0]
    for k in range(1, n):
        v[k] = rho * v[k - 1] + sigma * (1 - rho * rho) ** 0.5 * z[k]
    import math
    return [(round(k * step_s, 3), round(min(max(mean_mbit * math.exp(v[k]), lo_mbit), hi_mbit), 3))
            for k in range(n)]


def step_trace(seconds: float, rates_mbit=(10.0, 3.0, 10.0)) -> list:
    """Step changes: ``rates_mbit`` held for equal parts of ``seconds``, ``[(t_s, rate)]``."""
    k = len(rates_mbit)
    return [(round(i * seconds / k, 3), float(r)) for i, r in enumerate(rates_mbit)]


def jain_index(x) -> float:
    """Jain's fairness index ``(sum x)^2 / (n sum x^2)`` (Jain, Chiu, Hawe, DEC-TR-301, 1984):
    1 for equal shares, ``1/n`` when one flow takes everything. Raises ValueError if empty."""
    x = [float(v) for v in x]
    if not x:
        raise ValueError("jain_index of no flows")
    s2 = sum(v * v for v in x)
    return (sum(x) ** 2) / (len(x) * s2) if s2 > 0 else 1.0


def flows(bed: Bottleneck, ccs: list, seconds: float = 8.0, port: int = 5299,
          rate_schedule: list | None = None, sample_s: float = 0.2) -> list:
    """Concurrent iperf3 flows sender -> receiver, one per entry of ``ccs`` (ports ``port``,
    ``port + 1``, ...), started together; optionally change the bottleneck rate during the
    run following ``rate_schedule`` ``[(t_s after start, rate_mbit), ...]`` (then restored).

    Throughput comes from iperf3's JSON (receiver side, whole run and per 1 s interval); RTT
    and cwnd are sampled every ``sample_s`` from ``ss -tin`` in the sender namespace (the
    kernel's smoothed RTT of each data connection).

    Returns:
        one dict per flow: ``{"cc", "port", "throughput_mbit", "min_rtt_ms", "rtt_ms_mean",
        "rtt_ms_p95", "cwnd_mean", "retransmits", "samples", "series": {"t_s", "rtt_ms",
        "cwnd"}, "intervals": [(t_end_s, Mbit/s), ...]}``; the TBF's drops during the run are
        in each dict's ``"tbf_drops"`` (shared bottleneck: the same number).
    Raises:
        EnvironmentProblem: iperf3 failed.
    """
    import numpy as np
    drops0 = bed.qdisc_drops()
    ports = [port + i for i in range(len(ccs))]
    srvs = [bed.popen("rcv", ["iperf3", "-s", "-1", "-B", RCV_IP, "-p", str(p)]) for p in ports]
    series: dict = {p: ([], [], [], []) for p in ports}
    clis = []
    try:
        time.sleep(0.5)
        t0 = time.time()
        clis = [bed.popen("snd", ["iperf3", "-c", RCV_IP, "-p", str(p), "-t", str(seconds),
                                  "-C", cc, "-J", "-O", "1"]) for p, cc in zip(ports, ccs,
                                                                                strict=True)]
        sched = list(rate_schedule or [])
        while any(c.poll() is None for c in clis) and time.time() - t0 < seconds + 20:
            now = time.time() - t0
            while sched and sched[0][0] <= now:
                bed.set_rate(sched.pop(0)[1])
            time.sleep(sample_s)
            ss = bed.run("snd", ["ss", "-tin", "dst", RCV_IP], timeout=10)
            t = time.time() - t0
            for p, (rtt, cwnd, minrtt) in parse_ss(ss.stdout).items():
                if p in series and rtt is not None:
                    series[p][0].append(round(t, 3))
                    series[p][1].append(rtt)
                    series[p][2].append(cwnd)
                    if minrtt is not None:
                        series[p][3].append(minrtt)
        outs = [c.communicate(timeout=30) for c in clis]
    finally:
        if rate_schedule:
            bed.set_rate(bed.rate_mbit)
        for c in clis:
            if c.poll() is None:
                c.kill()
                c.communicate()
        for srv in srvs:
            if srv.poll() is None:
                srv.terminate()
            srv.communicate(timeout=10)
    drops = bed.qdisc_drops() - drops0
    res = []
    for p, cc, (out, err) in zip(ports, ccs, outs, strict=True):
        try:
            js = json.loads(out)
        except ValueError:
            raise EnvironmentProblem(f"iperf3 failed: {(err or out).strip()[:200]}") from None
        if "error" in js:
            raise EnvironmentProblem(f"iperf3 failed: {js['error']}")
        end = js["end"]
        ts, rtts, cwnds, minrtts = series[p]
        r = np.array(rtts) if rtts else np.array([np.nan])
        res.append({"cc": cc, "port": p,
                    "throughput_mbit": round(end["sum_received"]["bits_per_second"] / 1e6, 3),
                    "min_rtt_ms": round(min(minrtts), 2) if minrtts else None,
                    "rtt_ms_mean": round(float(np.mean(r)), 2),
                    "rtt_ms_p95": round(float(np.percentile(r, 95)), 2),
                    "cwnd_mean": round(float(np.mean([c for c in cwnds if c])), 1)
                    if any(cwnds) else None,
                    "retransmits": end["sum_sent"].get("retransmits"), "samples": len(rtts),
                    "tbf_drops": drops,
                    "series": {"t_s": ts, "rtt_ms": rtts, "cwnd": cwnds},
                    "intervals": [(round(iv["sum"]["end"], 2),
                                   round(iv["sum"]["bits_per_second"] / 1e6, 3))
                                  for iv in js.get("intervals", [])
                                  if not iv["sum"].get("omitted")]})
    return res


_ECHO_SERVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(float(sys.argv[3]))
try:
    while True:
        d, a = s.recvfrom(64)
        s.sendto(d, a)
except socket.timeout:
    pass
"""
_ECHO_CLIENT = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2.0)
for i in range(int(sys.argv[3])):
    t0 = time.monotonic()
    s.sendto(i.to_bytes(4, "little"), (sys.argv[1], int(sys.argv[2])))
    try:
        while int.from_bytes(s.recv(64)[:4], "little") != i:
            pass
        print(round((time.monotonic() - t0) * 1e3, 3), flush=True)
    except socket.timeout:
        pass
    time.sleep(float(sys.argv[4]))
"""


def echo_rtts(bed: Bottleneck, count: int = 100, interval_s: float = 0.05,
              port: int = 5399) -> list:
    """RTTs (ms) of ``count`` UDP echoes sender -> receiver on the idle path (this machine has
    no ``ping``; both ends are small Python programs): the delay bridge's added delay against
    its setting, and its jitter under the machine's load. Lost echoes are left out."""
    import sys
    srv = bed.popen("rcv", [sys.executable, "-c", _ECHO_SERVER, RCV_IP, str(port), "5"])
    try:
        time.sleep(0.3)
        r = bed.run("snd", [sys.executable, "-c", _ECHO_CLIENT, RCV_IP, str(port), str(count),
                            str(interval_s)], timeout=count * (interval_s + 2) + 30)
    finally:
        srv.terminate()
        srv.communicate(timeout=10)
    return [float(v) for v in r.stdout.split()]


def flow(bed: Bottleneck, cc: str, seconds: float = 8.0, port: int = 5299,
         rate_schedule: list | None = None) -> dict:
    """One iperf3 flow with congestion control ``cc``: :func:`flows` with one entry."""
    return flows(bed, [cc], seconds, port, rate_schedule)[0]
