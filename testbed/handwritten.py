"""Hand-written XDP references (testbed/refs/*.c) for library NFs: load, run, read state.

Each reference has exactly the semantics of ``netfuncs/NAME.nf`` (see the C file's header);
:data:`REFERENCES` says, per NF, its C file, entry function, whether it reads ``now()``,
how its maps are laid out (they are free to differ from cora's map ABI, as a hand-written
program's would) and which of them are configuration (filled from the NF's declared initial
entries, never written by the program). :class:`LoadedReference` runs frames through one
with BPF_PROG_TEST_RUN and reads its mutable maps back in cora's ``--state-out`` form
(``runtime/engine.py``: hash/LRU maps every entry, arrays only non-zero slots, per-CPU
arrays summed), so they compare directly with :meth:`cora.runtime.engine.KernelEngine.entries`.

Also the synthetic many-flow trace (:func:`synthetic_trace`, scapy, seeded) and the trace
directory (:func:`cora.settings.traces_dir`: ``CORA_TRACES``, default ``../shared/traces/tcpdump``
relative to the repository root).

``bench/`` is not a package: load this file by path (``bench/codegen.py`` puts ``bench/`` on
``sys.path``; the tests use ``importlib.util.spec_from_file_location``).
"""

from __future__ import annotations

import random
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cora.settings import traces_dir

NETFUNCS_DIR = Path(__file__).resolve().parent.parent / "netfuncs"
REFS_DIR = Path(__file__).resolve().parent / "refs"
XDP_VERDICTS = {0: "aborted", 1: "drop", 2: "pass", 3: "tx", 4: "redirect"}


@dataclass(frozen=True)
class MapSpec:
    """Layout of one reference map.

    Attributes:
        name: map name in the C file, equal to the NF's state name.
        kind: ``hash`` (hash or LRU hash), ``array`` or ``percpu_array``.
        key_fmt, value_fmt: :mod:`struct` formats of the kernel bytes; a ``6s`` field is a
            MAC address, read as the big-endian integer (cora's ``mac`` value). Arrays have
            key ``=I``.
        config: filled from the NF's initial entries and never written by the program
            (not compared).
    """

    name: str
    kind: str
    key_fmt: str
    value_fmt: str
    config: bool = False

    def pack(self, fmt: str, ints: tuple[int, ...]) -> bytes:
        """Kernel bytes of ``ints`` in ``fmt`` (MAC fields given as ints)."""
        kinds = [k for n, k in re.findall(r"(\d*)([a-zA-Z?])", fmt) if k != "x"]
        vals = [int(v).to_bytes(6, "big") if k == "s" else int(v)
                for k, v in zip(kinds, ints, strict=True)]
        return struct.pack(fmt, *vals)

    def unpack(self, fmt: str, data: bytes) -> tuple[int, ...]:
        """Ints of kernel bytes in ``fmt`` (MAC fields as big-endian ints)."""
        return tuple(int.from_bytes(v, "big") if isinstance(v, bytes) else v
                     for v in struct.unpack(fmt, data))


@dataclass(frozen=True)
class Reference:
    """One hand-written reference: ``testbed/refs/<c_file>``, entry ``entry``, maps ``maps``;
    ``uses_now``: it reads now() (injected from ``cora_env`` under differential runs)."""

    nf: str
    c_file: str
    entry: str
    maps: tuple[MapSpec, ...]
    uses_now: bool = False

    @property
    def nf_path(self) -> Path:
        """``netfuncs/<nf>.nf`` of this repository."""
        return NETFUNCS_DIR / f"{self.nf}.nf"


FLOW_KEY = "!IIHHB3x"   # saddr, daddr, sport, dport as on the wire, proto, padding
REFERENCES: dict[str, Reference] = {r.nf: r for r in (
    Reference("flowcount", "flowcount.c", "ref_flowcount",
              (MapSpec("flows", "hash", FLOW_KEY, "=QQ"),)),
    Reference("ratelimit", "ratelimit.c", "ref_ratelimit",
              (MapSpec("buckets", "hash", "!I", "=QQ"),
               MapSpec("stats", "percpu_array", "=I", "=Q")), uses_now=True),
    Reference("firewall", "firewall.c", "ref_firewall",
              (MapSpec("conns", "hash", FLOW_KEY, "=QB7x"),
               MapSpec("drops", "percpu_array", "=I", "=Q")), uses_now=True),
    Reference("lb", "lb.c", "ref_lb",
              (MapSpec("services", "hash", "!IHBx", "=I", config=True),
               MapSpec("backends", "array", "=I", "!I6s2x", config=True),
               MapSpec("maglev", "array", "=I", "=I", config=True),
               MapSpec("conns", "hash", FLOW_KEY, "=I"),
               MapSpec("replies", "hash", FLOW_KEY, "!I6s6s2x"),
               MapSpec("stats", "percpu_array", "=I", "=Q"))),
)}

Entries = list[tuple[tuple[int, ...], tuple[int, ...]]]


class _BccModule(Protocol):
    """What :class:`LoadedReference` uses of a ``bcc.BPF`` module (bcc has no type stubs)."""

    def cleanup(self) -> None: ...


@dataclass
class LoadedReference:
    """A reference compiled with bcc and loaded (with ``BPF_F_XDP_HAS_FRAGS``, like cora's
    programs, so frames past the 3,520-byte linear part run whole). ``close()`` or ``with``
    unloads it.

    Attributes:
        ref: what was loaded; inject_env: now() reads ``cora_env`` slot 0; prog_fd; map_fds
        (map name -> fd, ``cora_env`` included when injected).
    """

    ref: Reference
    inject_env: bool
    bpf: _BccModule | None
    prog_fd: int
    map_fds: dict[str, int] = field(default_factory=dict)

    def run(self, frame: bytes, now_ns: int = 0) -> tuple[str, bytes]:
        """Run one frame (14 to 73,152 bytes) once with now() = ``now_ns`` (when injected).

        Returns:
            (verdict name, output frame bytes).
        Raises:
            cora.errors.KernelError: the kernel refused the frame.
        """
        from cora.runtime.bpf_syscall import map_update, prog_test_run
        if self.inject_env and self.ref.uses_now:
            map_update(self.map_fds["cora_env"], (0).to_bytes(4, "little"),
                       int(now_ns).to_bytes(8, "little"))
        res = prog_test_run(self.prog_fd, frame, repeat=1)
        return XDP_VERDICTS.get(res.retval, "aborted"), res.data_out

    def entries(self, name: str) -> Entries:
        """Map ``name`` in cora's dump form (module docstring), sorted."""
        from cora.runtime import bpf_syscall as bs
        spec = next(m for m in self.ref.maps if m.name == name)
        fd = self.map_fds[name]
        ksz, vsz = struct.calcsize(spec.key_fmt), struct.calcsize(spec.value_fmt)
        out = []
        if spec.kind == "hash":
            for k, v in bs.map_items(fd, ksz, vsz):
                out.append((spec.unpack(spec.key_fmt, k), spec.unpack(spec.value_fmt, v)))
        else:
            info = bs.map_info(fd)
            percpu = spec.kind == "percpu_array"
            for i in range(info.max_entries):
                raw = bs.map_lookup(fd, struct.pack("=I", i), vsz, percpu)
                if raw is None:
                    continue
                per_cpu = raw if isinstance(raw, list) else [raw]
                vals = [spec.unpack(spec.value_fmt, r) for r in per_cpu]
                value = tuple(sum(col) & 0xFFFFFFFFFFFFFFFF for col in zip(*vals, strict=True))
                if any(value):
                    out.append(((i,), value))
        return sorted(out)

    def reset(self) -> None:
        """Empty every mutable map (hash maps: delete each entry; arrays: zero each slot,
        on every CPU for per-CPU arrays); configuration maps keep their entries."""
        from cora.runtime import bpf_syscall as bs
        for spec in self.ref.maps:
            if spec.config:
                continue
            fd = self.map_fds[spec.name]
            ksz, vsz = struct.calcsize(spec.key_fmt), struct.calcsize(spec.value_fmt)
            if spec.kind == "hash":
                for k, _ in bs.map_items(fd, ksz, vsz):
                    bs.map_delete(fd, k)
                continue
            percpu = spec.kind == "percpu_array"
            zero = [bytes(vsz)] * bs.possible_cpus() if percpu else bytes(vsz)
            for i in range(bs.map_info(fd).max_entries):
                bs.map_update(fd, struct.pack("=I", i), zero, 0, percpu=percpu)

    def state(self) -> dict[str, Entries]:
        """Every mutable (non-config) map in dump form."""
        return {m.name: self.entries(m.name) for m in self.ref.maps if not m.config}

    def close(self) -> None:
        """Unload the program and free its maps."""
        from cora.runtime.loader import unload

        unload(self)

    def __enter__(self) -> LoadedReference:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load_reference(ref: Reference, program=None, inject_env: bool = False) -> LoadedReference:
    """Compile ``testbed/refs/<ref.c_file>`` with bcc (~1-2 s) and load it.

    Args:
        ref: the reference.
        program: the NF's compiled :class:`cora.compiler.ir.Program`; needed when the
            reference has configuration maps (filled from the NF's initial entries).
        inject_env: now() from ``cora_env`` (differential runs) instead of the kernel clock.

    Raises:
        cora.errors.EnvironmentProblem: no root or no bcc.
        cora.errors.KernelError: the verifier refused it (a bug in the C file).
    """
    from cora.errors import KernelError
    from cora.runtime.loader import prog_load, require_bcc
    from cora.targets import get_target
    from cora.targets.xdp.hook import BPF_F_XDP_HAS_FRAGS
    bcc = require_bcc()
    cflags = [f"-I{REFS_DIR}"] + (["-DCORA_INJECT_ENV"] if inject_env else [])
    bpf = bcc.BPF(src_file=str(REFS_DIR / ref.c_file).encode(), cflags=cflags)
    loaded = LoadedReference(ref, inject_env, bpf, -1)
    try:
        fd, log = prog_load(bpf.dump_func(ref.entry.encode()), ref.entry,
                            get_target("xdp"), BPF_F_XDP_HAS_FRAGS)
        if fd < 0:
            raise KernelError(f"the verifier refused testbed/refs/{ref.c_file}:\n{log[-3000:]}")
        loaded.prog_fd = fd
        names = [m.name for m in ref.maps] + (["cora_env"] if inject_env and ref.uses_now
                                              else [])
        for name in names:
            mfd = bcc.lib.bpf_table_fd(bpf.module, name.encode())
            if mfd < 0:
                raise KernelError(f"testbed/refs/{ref.c_file} has no map {name}")
            loaded.map_fds[name] = mfd
        for spec in ref.maps:
            if spec.config:
                _fill_config(loaded, spec, program)
        return loaded
    except BaseException:
        loaded.close()
        raise


def _fill_config(loaded: LoadedReference, spec: MapSpec, program) -> None:
    """Write the NF's declared initial entries of ``spec.name`` in the reference's layout."""
    from cora.runtime.bpf_syscall import map_update
    if program is None:
        raise ValueError(f"reference {loaded.ref.nf} needs the NF program for map {spec.name}")
    for key, value in program.state(spec.name).init:
        map_update(loaded.map_fds[spec.name], spec.pack(spec.key_fmt, tuple(key)),
                   spec.pack(spec.value_fmt, tuple(value)), 0)


# ------------------------------------------------------------------------ synthetic trace
#: Addresses the library NFs treat specially (netfuncs/*.nf): firewall's inside network,
#: lb's VIP services and backends.
INSIDE_NET = 0x0A0B0100          # 10.11.1.0/24
VIP = "10.11.0.100"
BACKENDS = [f"10.11.2.{i}" for i in range(1, 6)]


def synthetic_trace(n_flows: int = 10_000, n_frames: int = 40_000, seed: int = 1,
                    zipf_s: float = 1.1) -> list[tuple[int, bytes]]:
    """A seeded many-flow trace for the library NFs, built with scapy.

    Flows: ``n_flows`` distinct 5-tuples; sources 30 % inside 10.11.1.0/24, else random in
    10.0.0.0/8; destinations 30 % inside (half of them on ports 22/80/443), 15 % lb's VIP
    (10.11.0.100 TCP 80 / UDP 53), else 10.211.0.0/16; 65 % TCP, 30 % UDP, 5 % ICMP echo.
    Frames: ``n_frames``, each of a flow drawn with Zipf popularity (weight 1/rank^zipf_s),
    30 % of them in the reverse direction (lb: from a random backend for VIP flows); TCP
    flags SYN first, then mostly ACK/PSH-ACK with 3 % FIN-ACK and 1 % RST; sizes 50 %
    64-100 B, 30 % 500-1000 B, 20 % 1400-1514 B. About 5 % special frames: 802.1Q-tagged
    IPv4, ARP, IPv6/UDP, truncated IPv4, non-first fragments, ICMP unreachable. Timestamps
    start at 1 s with exponential gaps of mean 20 us, plus jumps of 35 s at half and 310 s
    at three quarters of the trace (so UDP and TCP idle timeouts expire).

    Returns:
        ``[(timestamp_ns, frame), ...]`` in time order.
    """
    import ipaddress

    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.packet import Packet
    rng = random.Random(seed)

    def rand_ip(base: int, bits: int) -> str:
        return str(ipaddress.ip_address(base | rng.getrandbits(bits)))

    flows: list[tuple[str, str, int, int, str]] = []
    seen = set()
    while len(flows) < n_flows:
        src = rand_ip(INSIDE_NET, 8) if rng.random() < 0.3 else rand_ip(0x0A000000, 24)
        u = rng.random()
        proto = "tcp" if u < 0.65 else "udp" if u < 0.95 else "icmp"
        d = rng.random()
        if d < 0.3:
            dst = rand_ip(INSIDE_NET, 8)
            dport = rng.choice([22, 80, 443]) if rng.random() < 0.5 else rng.randrange(1, 65536)
        elif d < 0.45 and proto != "icmp":
            dst, dport = VIP, 80 if proto == "tcp" else 53
        else:
            dst, dport = rand_ip(0x0AD30000, 16), rng.randrange(1, 65536)
        sport = rng.randrange(1024, 65536)
        key = (src, dst, sport, dport, proto)
        if key not in seen:
            seen.add(key)
            flows.append(key)
    weights = [1.0 / (rank + 1) ** zipf_s for rank in range(n_flows)]
    started: set[int] = set()
    mac_a, mac_b = "02:00:00:00:00:01", "02:00:00:00:00:02"
    out = []
    t = 1_000_000_000
    for i in range(n_frames):
        t += int(rng.expovariate(1 / 20_000)) + 1
        if i == n_frames // 2:
            t += 35_000_000_000
        if i == (3 * n_frames) // 4:
            t += 310_000_000_000
        s = rng.random()
        size = (rng.randrange(64, 101) if s < 0.5 else rng.randrange(500, 1001) if s < 0.8
                else rng.randrange(1400, 1515))
        special = rng.random()
        if special < 0.05:
            out.append((t, _special_frame(rng, special / 0.05, size, mac_a, mac_b)))
            continue
        fi = rng.choices(range(n_flows), weights)[0]
        src, dst, sport, dport, proto = flows[fi]
        reverse = fi in started and rng.random() < 0.3
        if reverse:
            src, dst, sport, dport = ((rng.choice(BACKENDS) if dst == VIP else dst), src,
                                      dport, sport)
        if proto == "tcp":
            if fi not in started:
                flags = "S"
            else:
                f = rng.random()
                flags = "R" if f < 0.01 else "FA" if f < 0.04 else "PA" if f < 0.5 else "A"
                if reverse and rng.random() < 0.05:
                    flags = "SA"
            l4: Packet = TCP(sport=sport, dport=dport, flags=flags, seq=rng.getrandbits(32))
        elif proto == "udp":
            l4 = UDP(sport=sport, dport=dport)
        else:
            l4 = ICMP(type=0 if reverse else 8, id=sport & 0xFFFF, seq=i & 0xFFFF)
        started.add(fi)
        pkt = Ether(src=mac_a, dst=mac_b) / IP(src=src, dst=dst, ttl=64) / l4
        pad = max(0, size - len(pkt))
        out.append((t, bytes(pkt / (b"\0" * pad))))
    return out


def _special_frame(rng: random.Random, u: float, size: int, mac_a: str, mac_b: str) -> bytes:
    """One of the special frames of :func:`synthetic_trace` (``u`` in [0, 1) picks it)."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP, Dot1Q, Ether
    eth = Ether(src=mac_a, dst=mac_b)
    src = f"10.11.1.{rng.randrange(1, 255)}" if rng.random() < 0.5 else \
        f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    dst = f"10.11.1.{rng.randrange(1, 255)}"
    if u < 0.3:
        pkt = eth / Dot1Q(vlan=7) / IP(src=src, dst=dst) / TCP(
            sport=rng.randrange(1024, 65536), dport=rng.choice([22, 80, 1234]), flags="S")
    elif u < 0.45:
        return bytes(eth / ARP(psrc=src, pdst=dst))
    elif u < 0.6:
        pkt = eth / IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=1000, dport=2000)
    elif u < 0.7:
        return bytes(eth / IP(src=src, dst=dst) / TCP(dport=80))[:14 + 20 + 10]
    elif u < 0.85:
        pkt = eth / IP(src=src, dst=dst, proto=6, frag=rng.randrange(1, 100)) / (b"\0" * 40)
    else:
        pkt = eth / IP(src=src, dst=dst) / ICMP(type=rng.choice([3, 11, 5]), code=0) / (
            b"\0" * 28)
    return bytes(pkt / (b"\0" * max(0, size - len(pkt))))


SYNTHETIC = "synthetic"


class Mismatch(Exception):
    """The compiled NF and its reference disagreed (verdict, bytes or state)."""


def load_trace(name: str, n_flows: int, n_frames: int) -> list[tuple[int, bytes]]:
    """``[(timestamp_ns, frame)]`` of a capture (a path, or a name in the corpus) or of the
    synthetic trace (``name == "synthetic"``)."""
    from cora.testbed.replay import read_pcap
    if name == SYNTHETIC:
        return synthetic_trace(n_flows=n_flows, n_frames=n_frames)
    path = Path(name)
    if not path.exists():
        path = traces_dir() / name
    return read_pcap(path)


def compare(ref: Reference, program, records: list[tuple[int, bytes]],
            max_examples: int = 5, engines: tuple | None = None) -> dict:
    """Run every frame once through the compiled NF and the reference (state kept) and
    compare verdicts, output bytes and the final content of every mutable map.

    Args:
        ref, program: the reference and the NF's compiled program.
        records: ``[(timestamp_ns, frame)]``; now() is the timestamp in both.
        max_examples: most differing frames described.
        engines: ``(KernelEngine, LoadedReference)`` loaded with injected now(), to reuse
            (both are reset first); None loads (and unloads) a pair.

    Returns:
        dict: frames_run, verdicts (name -> count, from the NF), frame_mismatches (count),
        examples (first few, as text), state_match (bool), state_diffs (per map: entries
        only in the NF, only in the reference, or different; counts and an example),
        state_entries (per map, the reference's entry count).
    """
    if engines is None:
        with comparison_engines(ref, program) as pair:
            return compare(ref, program, records, max_examples, pair)
    from cora.runtime.testrun import xdp_test_run_accepts
    nf, r = engines
    nf.reset()
    r.reset()
    verdicts: dict[str, int] = {}
    examples: list[str] = []
    bad = ran = 0
    for i, (ts, frame) in enumerate(records):
        if not xdp_test_run_accepts(frame):
            continue
        ran += 1
        a = nf.run(frame, ts)
        v, out = r.run(frame, ts)
        verdicts[a.verdict] = verdicts.get(a.verdict, 0) + 1
        if a.verdict != v or a.frame != out:
            bad += 1
            if len(examples) < max_examples:
                diff = [j for j in range(min(len(out), len(a.frame))) if out[j] != a.frame[j]]
                examples.append(f"frame {i} ({len(frame)} B): nf {a.verdict} ref {v}; "
                                f"bytes differ at {diff[:8]}"
                                + ("; lengths differ" if len(out) != len(a.frame) else ""))
    diffs = {}
    ref_state = r.state()
    for name, ref_entries in ref_state.items():
        mine, theirs = dict(nf.entries(name)), dict(ref_entries)
        only_nf = [k for k in mine if k not in theirs]
        only_ref = [k for k in theirs if k not in mine]
        changed = [k for k in mine if k in theirs and mine[k] != theirs[k]]
        if only_nf or only_ref or changed:
            k = (changed or only_nf or only_ref)[0]
            diffs[name] = {"only_nf": len(only_nf), "only_ref": len(only_ref),
                           "different": len(changed), "example_key": list(k),
                           "nf": mine.get(k), "ref": theirs.get(k)}
    return {"frames_run": ran, "verdicts": verdicts, "frame_mismatches": bad,
            "examples": examples, "state_match": not diffs, "state_diffs": diffs,
            "state_entries": {name: len(e) for name, e in ref_state.items()}}


@contextmanager
def comparison_engines(ref: Reference, program) -> Iterator[tuple]:
    """The compiled NF (cora's kernel engine) and the reference, both with injected now(),
    loaded side by side; unloaded on exit."""
    from cora.runtime.engine import KernelEngine
    with KernelEngine(program) as nf, load_reference(ref, program, inject_env=True) as r:
        yield nf, r
