"""Helpers for the NF library tests: compile an NF (optionally with changed constants), run
scapy-built frames through the reference interpreter, read state, check checksums.

Frames are built with scapy; every helper works on raw bytes, as the engines do.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether

import cora.netfuncs
from cora.compiler.driver import compile_file
from cora.compiler.interp import Interpreter

NETFUNCS_DIR = Path(cora.netfuncs.__file__).resolve().parent
NF_NAMES = ("flowcount", "firewall", "nat", "lb", "ratelimit", "heavyhitter", "synguard")

# Addresses shared by the tests (see netfuncs/README.md).
CLIENT_MAC = "02:00:00:00:00:01"
ROUTER_MAC = "02:00:00:00:00:fe"


def ip(addr: str) -> int:
    """The unsigned value of a dotted-quad IPv4 address (10.0.0.1 -> 167772161)."""
    return int(ipaddress.IPv4Address(addr))


def nf_path(name: str) -> Path:
    """Path of ``netfuncs/<name>.nf``."""
    return NETFUNCS_DIR / f"{name}.nf"


def variant_source(name: str, consts: dict[str, str] | None = None,
                   replace: dict[str, str] | None = None) -> str:
    """The source of ``name``.nf with some ``const`` values and/or literal text replaced.

    Args:
        consts: const name -> new value text (the declaration must exist exactly once).
        replace: old text -> new text (each must occur exactly once).
    Raises AssertionError when a const or text is not found exactly once, so a test never
    silently runs the unmodified NF.
    """
    text = nf_path(name).read_text()
    for cname, value in (consts or {}).items():
        pattern = re.compile(rf"^(const {cname}(?:\s*:\s*\w+)?\s*=\s*)[^;]+;", re.M)
        text, n = pattern.subn(lambda m, value=value: f"{m.group(1)}{value};", text)
        assert n == 1, f"const {cname} found {n} times in {name}.nf"
    for old, new in (replace or {}).items():
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {name}.nf"
        text = text.replace(old, new)
    return text


def compile_nf(name: str, tmp_path: Path | None = None, consts: dict[str, str] | None = None,
               replace: dict[str, str] | None = None):
    """Compile ``netfuncs/<name>.nf`` (or a variant written under ``tmp_path``) to IR."""
    if not consts and not replace:
        return compile_file(str(nf_path(name)))
    assert tmp_path is not None, "a variant needs tmp_path"
    path = tmp_path / f"{name}.nf"
    path.write_text(variant_source(name, consts, replace))
    return compile_file(str(path))


def program_fixture(name: str) -> Any:
    """A module-scoped pytest fixture named ``program``: ``name``.nf compiled once per test
    module. Assign it at module level: ``program = program_fixture("heavyhitter")``."""

    @pytest.fixture(scope="module", name="program")
    def program_() -> Any:
        return compile_nf(name)

    return program_


def nf_fixtures(name: str, instance: str) -> tuple[Any, Any]:
    """:func:`program_fixture` and a fixture named ``instance`` giving each test a fresh
    :class:`NF` (empty maps) over that program. Assign both at module level:
    ``program, fw = nf_fixtures("firewall", "fw")``."""

    @pytest.fixture(name=instance)
    def instance_(program) -> NF:
        return NF(program)

    return program_fixture(name), instance_


@dataclass
class Out:
    """One frame's outcome: verdict string and the output frame bytes."""

    verdict: str
    frame: bytes

    @property
    def pkt(self) -> Ether:
        """The output frame parsed by scapy."""
        return Ether(self.frame)


class NF:
    """A fresh interpreter over a compiled program, with test conveniences."""

    def __init__(self, program):
        self.interp = Interpreter(program)

    def send(self, pkt, now_ns: int = 0) -> Out:
        """Run one frame (scapy packet or bytes) at time ``now_ns``."""
        raw = bytes(pkt)
        res = self.interp.run(raw, now_ns=now_ns)
        assert len(res.frame) == len(raw), "an NF must not change the frame length"
        return Out(res.verdict, bytes(res.frame))

    def table(self, name: str) -> dict[tuple[int, ...], tuple[int, ...]]:
        """All entries of state ``name`` as {key tuple: value tuple} (dump_state format)."""
        return {tuple(e["key"]): tuple(e["value"])
                for e in self.interp.dump_state()["maps"][name]}

    def get(self, name: str, key: tuple[int, ...]) -> tuple[int, ...] | None:
        """The value under ``key`` in state ``name`` or None."""
        return self.interp.lookup(name, tuple(key))

    def counter(self, name: str, index: int) -> int:
        """Slot ``index`` of a (percpu_)array of one u64 per slot."""
        v = self.interp.lookup(name, (index,))
        assert v is not None, f"{name}[{index}] out of range"
        return v[0]


def eth(src: str = CLIENT_MAC, dst: str = ROUTER_MAC) -> Ether:
    """An Ethernet header between the test client and router MACs."""
    return Ether(src=src, dst=dst)


def tcp(src: str, dst: str, sport: int, dport: int, flags: str = "S", payload: bytes = b"",
        **ip_fields) -> Ether:
    """An Ethernet/IPv4/TCP frame."""
    return eth() / IP(src=src, dst=dst, **ip_fields) / TCP(sport=sport, dport=dport,
                                                          flags=flags) / payload


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes = b"x" * 16,
        **ip_fields) -> Ether:
    """An Ethernet/IPv4/UDP frame."""
    return eth() / IP(src=src, dst=dst, **ip_fields) / UDP(sport=sport, dport=dport) / payload


def icmp(src: str, dst: str, type_: int = 8, id_: int = 1, seq: int = 1, code: int = 0) -> Ether:
    """An Ethernet/IPv4/ICMP frame (echo request by default)."""
    return eth() / IP(src=src, dst=dst) / ICMP(type=type_, code=code, id=id_, seq=seq) / b"ping"


def checksums_valid(frame: bytes) -> bool:
    """Whether the IPv4 header checksum and the TCP/UDP/ICMP checksum in ``frame`` equal what
    scapy computes from scratch (a UDP checksum of 0 means none and is accepted)."""
    p = Ether(frame)
    fresh = Ether(frame)
    del fresh[IP].chksum
    for layer in (TCP, UDP, ICMP):
        if layer in fresh:
            if layer is UDP and p[UDP].chksum == 0:
                continue
            del fresh[layer].chksum
    fresh = Ether(bytes(fresh))
    if p[IP].chksum != fresh[IP].chksum:
        return False
    for layer in (TCP, UDP, ICMP):
        if layer in p and not (layer is UDP and p[UDP].chksum == 0):
            if p[layer].chksum != fresh[layer].chksum:
                return False
    return True
