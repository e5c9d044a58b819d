"""Built-in packet headers: field layouts and the fixed parse graph.

This module is the single description of packet headers for every part of cora: the checker
(field names, types, writability), the reference interpreter (parsing raw bytes, loads and
stores) and the code generators (offsets and bounds checks). docs/language.md states the
same rules for users.

Layouts follow IEEE 802.3 (Ethernet), IEEE 802.1Q (VLAN tag), RFC 791 (IPv4), RFC 8200 (IPv6),
RFC 9293 (TCP), RFC 768 (UDP) and RFC 792 (ICMP). Bit offsets count from the first bit of the
header in network (big-endian) order.
"""

from __future__ import annotations

from dataclasses import dataclass

# Ethertypes (IEEE registry) and IP protocol numbers (IANA).
ETH_P_IPV4 = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_ARP = 0x0806
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17

ETH_HLEN = 14
VLAN_HLEN = 4
IPV4_MIN_HLEN = 20
IPV6_HLEN = 40


@dataclass(frozen=True)
class Field:
    """One header field.

    Attributes:
        name: field name as written in NF source (``ipv4.saddr`` -> ``saddr``).
        bit_offset: offset of the field's most significant bit from the header start, bits.
        bit_width: width in bits (1..128).
        type_name: the language type of the field (``u8``.. ``u64``, ``ip4``, ``mac``, ``ip6``).
        readonly: True when the compiler owns the field (checksums) or it steers the parser.
    """

    name: str
    bit_offset: int
    bit_width: int
    type_name: str
    readonly: bool = False

    @property
    def byte_offset(self) -> int:
        """Offset of the first byte holding the field."""
        return self.bit_offset // 8

    @property
    def byte_span(self) -> int:
        """Number of bytes that hold (part of) the field."""
        return (self.bit_offset + self.bit_width + 7) // 8 - self.bit_offset // 8

    @property
    def shift(self) -> int:
        """Right shift that moves the field to bit 0 after a big-endian load of byte_span bytes."""
        return self.byte_span * 8 - (self.bit_offset % 8) - self.bit_width


@dataclass(frozen=True)
class Header:
    """A built-in header.

    Attributes:
        name: the header's name in NF source.
        min_len: bytes that must be in the frame for the header to be valid (fixed part).
        fields: the fields in wire order.
        csum_field: the field holding this header's own checksum, if any.
        pseudo_header_fields: fields that are part of the L4 pseudo-header (RFC 9293 3.1,
            RFC 768, RFC 8200 8.1), so writing them fixes the TCP/UDP checksum too.
    """

    name: str
    min_len: int
    fields: tuple[Field, ...]
    csum_field: str | None = None
    pseudo_header_fields: tuple[str, ...] = ()

    def field(self, name: str) -> Field | None:
        """The field called ``name``, or None."""
        for f in self.fields:
            if f.name == name:
                return f
        return None


def _fields(*spec: tuple) -> tuple[Field, ...]:
    """Build consecutive fields from ``(name, bits, type, readonly)`` tuples."""
    out, bit = [], 0
    for name, bits, type_name, *ro in spec:
        if name is not None:
            out.append(Field(name, bit, bits, type_name, bool(ro and ro[0])))
        bit += bits
    return tuple(out)


HEADERS: dict[str, Header] = {
    "ethernet": Header("ethernet", ETH_HLEN, _fields(
        ("dst", 48, "mac"), ("src", 48, "mac"), ("type", 16, "u16", True))),
    "vlan": Header("vlan", VLAN_HLEN, _fields(
        ("pcp", 3, "u8"), ("dei", 1, "u8"), ("vid", 12, "u16"), ("type", 16, "u16", True))),
    "ipv4": Header("ipv4", IPV4_MIN_HLEN, _fields(
        ("version", 4, "u8", True), ("ihl", 4, "u8", True), ("dscp", 6, "u8"), ("ecn", 2, "u8"),
        ("len", 16, "u16", True), ("id", 16, "u16"), ("flags", 3, "u8"),
        ("frag_offset", 13, "u16"), ("ttl", 8, "u8"), ("proto", 8, "u8", True),
        ("csum", 16, "u16", True), ("saddr", 32, "ip4"), ("daddr", 32, "ip4")),
        csum_field="csum", pseudo_header_fields=("saddr", "daddr")),
    "ipv6": Header("ipv6", IPV6_HLEN, _fields(
        ("version", 4, "u8", True), ("tclass", 8, "u8"), ("flow_label", 20, "u32"),
        ("len", 16, "u16", True), ("nexthdr", 8, "u8", True), ("hop_limit", 8, "u8"),
        ("saddr", 128, "ip6"), ("daddr", 128, "ip6")),
        pseudo_header_fields=("saddr", "daddr")),
    "tcp": Header("tcp", 20, _fields(
        ("sport", 16, "u16"), ("dport", 16, "u16"), ("seq", 32, "u32"), ("ack", 32, "u32"),
        ("doff", 4, "u8", True), (None, 4, None), ("flags", 8, "u8"), ("window", 16, "u16"),
        ("csum", 16, "u16", True), ("urg", 16, "u16")),
        csum_field="csum"),
    "udp": Header("udp", 8, _fields(
        ("sport", 16, "u16"), ("dport", 16, "u16"), ("len", 16, "u16", True),
        ("csum", 16, "u16", True)),
        csum_field="csum"),
    "icmp": Header("icmp", 8, _fields(
        ("type", 8, "u8"), ("code", 8, "u8"), ("csum", 16, "u16", True), ("id", 16, "u16"),
        ("seq", 16, "u16")),
        csum_field="csum"),
}

# Parse order: a header's offset and validity depend only on headers before it.
PARSE_ORDER = ("ethernet", "vlan", "ipv4", "ipv6", "tcp", "udp", "icmp")
L4_HEADERS = ("tcp", "udp", "icmp")

# The built-in Flow struct: (field name, type name, header, header field).
FLOW_FIELDS = (
    ("saddr", "ip4", "ipv4", "saddr"),
    ("daddr", "ip4", "ipv4", "daddr"),
    ("sport", "u16", "l4", "sport"),
    ("dport", "u16", "l4", "dport"),
    ("proto", "u8", "ipv4", "proto"),
)

# Named constants every NF sees (docs/language.md).
BUILTIN_CONSTANTS: dict[str, tuple[str, int]] = {
    "TCP_FIN": ("u8", 0x01), "TCP_SYN": ("u8", 0x02), "TCP_RST": ("u8", 0x04),
    "TCP_PSH": ("u8", 0x08), "TCP_ACK": ("u8", 0x10), "TCP_URG": ("u8", 0x20),
    "TCP_ECE": ("u8", 0x40), "TCP_CWR": ("u8", 0x80),
    "PROTO_ICMP": ("u8", IPPROTO_ICMP), "PROTO_TCP": ("u8", IPPROTO_TCP),
    "PROTO_UDP": ("u8", IPPROTO_UDP),
    "ETH_P_IPV4": ("u16", ETH_P_IPV4), "ETH_P_IPV6": ("u16", ETH_P_IPV6),
    "ETH_P_ARP": ("u16", ETH_P_ARP),
}


@dataclass(frozen=True)
class ParsedFrame:
    """Result of the fixed parser on one frame.

    Attributes:
        offsets: header name -> byte offset of its start, only for valid headers.
    """

    offsets: dict[str, int]

    def valid(self, header: str) -> bool:
        """Whether ``header`` was parsed in this frame."""
        return header in self.offsets


def parse_frame(frame: bytes | bytearray) -> ParsedFrame:
    """Run the fixed parse graph of docs/language.md on raw frame bytes.

    Never reads past ``len(frame)``; malformed frames simply leave later headers invalid.

    Args:
        frame: the whole Ethernet frame.
    Returns:
        a :class:`ParsedFrame` with the offset of every valid header.
    """
    n = len(frame)
    off: dict[str, int] = {}
    if n < ETH_HLEN:
        return ParsedFrame(off)
    off["ethernet"] = 0
    ethertype = int.from_bytes(frame[12:14], "big")
    l3 = ETH_HLEN
    if ethertype in (ETH_P_8021Q, ETH_P_8021AD):
        if n < ETH_HLEN + VLAN_HLEN:
            return ParsedFrame(off)
        off["vlan"] = ETH_HLEN
        ethertype = int.from_bytes(frame[16:18], "big")
        l3 = ETH_HLEN + VLAN_HLEN
    proto, l4 = None, None
    if ethertype == ETH_P_IPV4:
        if n < l3 + IPV4_MIN_HLEN:
            return ParsedFrame(off)
        ihl = frame[l3] & 0x0F
        if ihl < 5 or n < l3 + ihl * 4:
            return ParsedFrame(off)
        off["ipv4"] = l3
        frag_offset = int.from_bytes(frame[l3 + 6:l3 + 8], "big") & 0x1FFF
        if frag_offset == 0:
            proto, l4 = frame[l3 + 9], l3 + ihl * 4
    elif ethertype == ETH_P_IPV6:
        if n < l3 + IPV6_HLEN:
            return ParsedFrame(off)
        off["ipv6"] = l3
        proto, l4 = frame[l3 + 6], l3 + IPV6_HLEN
        if proto == IPPROTO_ICMP:  # ICMP (v4) is not an IPv6 upper layer
            proto = None
    if proto is not None:
        name = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp", IPPROTO_ICMP: "icmp"}.get(proto)
        if name is not None and n >= l4 + HEADERS[name].min_len:
            off[name] = l4
    return ParsedFrame(off)


def load_field(frame: bytes | bytearray, header_offset: int, field: Field) -> int:
    """Read ``field`` of a header starting at ``header_offset`` (caller checked validity).

    Returns the unsigned big-endian value of the field's bits.
    """
    start = header_offset + field.byte_offset
    raw = int.from_bytes(frame[start:start + field.byte_span], "big")
    return (raw >> field.shift) & ((1 << field.bit_width) - 1)


def store_field(frame: bytearray, header_offset: int, field: Field, value: int) -> None:
    """Write ``value`` (truncated to the field width) into ``field``, leaving other bits."""
    start = header_offset + field.byte_offset
    span = field.byte_span
    raw = int.from_bytes(frame[start:start + span], "big")
    mask = ((1 << field.bit_width) - 1) << field.shift
    raw = (raw & ~mask) | ((value << field.shift) & mask)
    frame[start:start + span] = raw.to_bytes(span, "big")
