#!/usr/bin/env python3
"""Generate the configuration block of netfuncs/lb.nf: services, backends and Maglev tables.

Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
Balancer", NSDI 2016, section 3.4): every backend i gets a permutation of the M table slots,
``permutation[i][j] = (offset_i + j * skip_i) mod M`` with ``offset_i = h1(name_i) mod M`` and
``skip_i = h2(name_i) mod (M - 1) + 1``; M is prime, so every skip is coprime with M and each
permutation visits every slot. The table is filled round-robin: each backend in turn takes the
next slot of its permutation that is still empty, until all M slots are taken (the paper's
Pseudocode 1). Each backend ends up with floor(M/N) or ceil(M/N) slots, and removing one
backend moves few slots of the others.

The paper leaves h1 and h2 open; here they are BLAKE2b-64 of the backend's name (its IPv4
address as text) with two different personalisation strings, so tables are reproducible.

Usage (the block written into lb.nf records the exact command line)::

    python netfuncs/tools/maglev_table.py --size 251 \\
        --service 10.11.0.100:80/tcp 10.11.2.1@02:00:0a:0b:02:01 10.11.2.2@02:00:0a:0b:02:02 \\
        --service 10.11.0.100:53/udp 10.11.2.3@02:00:0a:0b:02:03 \\
        [--update netfuncs/lb.nf | --check netfuncs/lb.nf]

Without --update/--check the block is printed. Backend indices (into lb.nf's ``backends``
array) follow the order in which addresses first appear on the command line. Bad arguments
give one line on stderr and exit status 2 (argparse) or 1.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

BEGIN_MARK = "// BEGIN maglev-config"
END_MARK = "// END maglev-config"
MAX_SERVICES = 16
MAX_BACKENDS = 64
PROTOS = {"tcp": 6, "udp": 17}
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


class ConfigError(ValueError):
    """A malformed service or backend description (one line, says what is wrong)."""


@dataclass(frozen=True)
class Service:
    """One virtual service.

    Attributes:
        vip: the virtual IPv4 address, dotted quad.
        port: the service's L4 port (1..65535).
        proto: IP protocol number (6 TCP, 17 UDP).
        backends: backend names (IPv4 addresses as text), in command-line order.
    """

    vip: str
    port: int
    proto: int
    backends: tuple[str, ...]


def _h(name: str, person: bytes) -> int:
    """64-bit BLAKE2b of ``name`` with personalisation ``person``, as an unsigned int."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8, person=person).digest(),
                          "big")


def is_prime(n: int) -> bool:
    """Whether ``n`` is prime (trial division; table sizes are small)."""
    if n < 2:
        return False
    d = 2
    while d * d <= n:
        if n % d == 0:
            return False
        d += 1
    return True


def permutation(name: str, size: int) -> list[int]:
    """The slot preference list of backend ``name`` for a table of ``size`` (prime) slots.

    Returns ``size`` distinct slot indices (Eisenbud et al. 2016, section 3.4).
    Raises ConfigError if ``size`` is not a prime >= 3.
    """
    if size < 3 or not is_prime(size):
        raise ConfigError(f"table size {size} must be a prime >= 3 (Maglev section 3.4)")
    offset = _h(name, b"maglev-offset") % size
    skip = _h(name, b"maglev-skip") % (size - 1) + 1
    return [(offset + j * skip) % size for j in range(size)]


def populate(names: list[str] | tuple[str, ...], size: int) -> list[int]:
    """Fill a Maglev lookup table.

    Args:
        names: backend names, at least one, all distinct.
        size: number of slots M (prime).
    Returns:
        a list of ``size`` entries, each an index into ``names``.
    Raises:
        ConfigError: no backends, duplicate names, or a bad size.
    """
    if not names:
        raise ConfigError("a service needs at least one backend")
    if len(set(names)) != len(names):
        raise ConfigError("a backend is listed twice in one service")
    perms = [permutation(n, size) for n in names]
    nxt = [0] * len(names)
    entry = [-1] * size
    filled = 0
    while True:
        for i, perm in enumerate(perms):
            c = perm[nxt[i]]
            while entry[c] >= 0:
                nxt[i] += 1
                c = perm[nxt[i]]
            entry[c] = i
            nxt[i] += 1
            filled += 1
            if filled == size:
                return entry


def _parse_service(items: list[str]) -> tuple[Service, list[tuple[str, str]]]:
    """Parse ``VIP:PORT/PROTO ADDR@MAC ...`` into a Service and its (addr, mac) backends."""
    head, *rest = items
    m = re.fullmatch(r"(\d+\.\d+\.\d+\.\d+):(\d+)/(tcp|udp)", head)
    if not m:
        raise ConfigError(f"service '{head}' is not VIP:PORT/tcp or VIP:PORT/udp")
    vip, port, proto = m.group(1), int(m.group(2)), PROTOS[m.group(3)]
    try:
        ipaddress.IPv4Address(vip)
    except ValueError:
        raise ConfigError(f"'{vip}' is not an IPv4 address") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"port {port} is out of 1..65535")
    backends = []
    for b in rest:
        addr, sep, mac = b.partition("@")
        try:
            ipaddress.IPv4Address(addr)
        except ValueError:
            raise ConfigError(f"backend '{b}': '{addr}' is not an IPv4 address") from None
        if not sep or not _MAC_RE.match(mac):
            raise ConfigError(f"backend '{b}' is not ADDR@MAC (MAC as 02:00:00:00:00:01)")
        backends.append((addr, mac.lower()))
    return Service(vip, port, proto, tuple(a for a, _ in backends)), backends


def build(services: list[list[str]], size: int) -> tuple[list[Service], list[tuple[str, str]],
                                                        list[list[int]]]:
    """Parse service descriptions and compute one Maglev table per service.

    Returns (services, backends as (addr, mac) in index order, tables) where ``tables[s][j]``
    is the global backend index at slot j of service s. Raises ConfigError on bad input.
    """
    if not services:
        raise ConfigError("give at least one --service")
    if len(services) > MAX_SERVICES:
        raise ConfigError(f"at most {MAX_SERVICES} services")
    parsed: list[Service] = []
    backends: list[tuple[str, str]] = []
    index: dict[str, int] = {}
    tables: list[list[int]] = []
    for items in services:
        svc, bks = _parse_service(items)
        if any((s.vip, s.port, s.proto) == (svc.vip, svc.port, svc.proto) for s in parsed):
            raise ConfigError(f"service {items[0]} is given twice")
        for addr, mac in bks:
            if addr in index:
                if backends[index[addr]][1] != mac:
                    raise ConfigError(f"backend {addr} is given two MAC addresses")
            else:
                index[addr] = len(backends)
                backends.append((addr, mac))
        local = populate(svc.backends, size)
        tables.append([index[svc.backends[i]] for i in local])
        parsed.append(svc)
    if len(backends) > MAX_BACKENDS:
        raise ConfigError(f"at most {MAX_BACKENDS} backends")
    return parsed, backends, tables


def render(argv: list[str], services: list[Service], backends: list[tuple[str, str]],
           tables: list[list[int]], size: int) -> str:
    """The NF source text of the configuration block, markers included."""
    cmd = " ".join(shlex.quote(a) for a in argv)
    out = [
        f"{BEGIN_MARK} (generated; do not edit by hand)",
        f"// python netfuncs/tools/maglev_table.py {cmd}",
        f"const MAGLEV_M: u32 = {size};",
        "",
        "// (vip, port, proto) -> service index; the service's table is",
        "// maglev[index * MAGLEV_M .. index * MAGLEV_M + MAGLEV_M - 1].",
        f"state services: map<(ip4, u16, u8), u32>[{MAX_SERVICES}] on_full skip = {{",
    ]
    for i, s in enumerate(services):
        out.append(f"    ({s.vip}, {s.port}, {s.proto}): {i},")
    out.append("};")
    out.append("")
    out.append(f"state backends: array<Backend>[{MAX_BACKENDS}] = {{")
    for i, (addr, mac) in enumerate(backends):
        out.append(f"    {i}: Backend {{ addr: {addr}, mac: {mac} }},")
    out.append("};")
    out.append("")
    total = size * len(services)
    out.append(f"state maglev: array<u32>[{total}] = {{")
    flat = [b for t in tables for b in t]
    for start in range(0, total, 12):
        row = ", ".join(f"{j}: {flat[j]}" for j in range(start, min(start + 12, total)))
        out.append(f"    {row},")
    out.append("};")
    out.append(END_MARK)
    return "\n".join(out) + "\n"


def splice(text: str, block: str) -> str:
    """Replace the marked configuration block in ``text`` with ``block``.

    Raises ConfigError if the markers are missing.
    """
    begin = text.find(BEGIN_MARK)
    end = text.find(END_MARK)
    if begin < 0 or end < begin:
        raise ConfigError(f"no '{BEGIN_MARK}' ... '{END_MARK}' block in the file")
    end = text.index("\n", end) + 1 if "\n" in text[end:] else len(text)
    return text[:begin] + block + text[end:]


def recorded_argv(text: str) -> list[str]:
    """The command-line arguments recorded in the block of an lb.nf source text.

    Raises ConfigError if there is no block.
    """
    begin = text.find(BEGIN_MARK)
    if begin < 0:
        raise ConfigError(f"no '{BEGIN_MARK}' block in the file")
    line = text[begin:].splitlines()[1]
    prefix = "// python netfuncs/tools/maglev_table.py "
    if not line.startswith(prefix):
        raise ConfigError("the block does not record its command line")
    return shlex.split(line[len(prefix):])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=251, help="slots per service table (prime)")
    p.add_argument("--service", nargs="+", action="append", default=[],
                   metavar="VIP:PORT/PROTO ADDR@MAC", help="a service and its backends")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--update", type=Path, help="rewrite the block in this .nf file")
    g.add_argument("--check", type=Path, help="exit 1 if this .nf file's block is stale")
    return p


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    # The recorded command omits --update/--check and their file.
    rec, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--update", "--check"):
            skip = True
            continue
        if a.startswith(("--update=", "--check=")):
            continue
        rec.append(a)
    try:
        services, backends, tables = build(args.service, args.size)
        block = render(rec, services, backends, tables, args.size)
        target = args.update or args.check
        if target is None:
            sys.stdout.write(block)
            return 0
        try:
            text = target.read_text()
        except OSError as e:
            raise ConfigError(f"cannot read {target}: {e.strerror}") from None
        new = splice(text, block)
        if args.check:
            if new != text:
                print(f"{target}: the maglev-config block is stale; rerun with --update",
                      file=sys.stderr)
                return 1
            return 0
        target.write_text(new)
        return 0
    except ConfigError as e:
        print(f"maglev_table.py: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
