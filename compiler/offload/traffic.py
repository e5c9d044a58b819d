"""Traffic splits: which packets take the NIC path of a plan and which go to the host.

Contract: docs/offload.md ("Traffic split"). A flow classifier on the NIC hashes a packet's
*classifier key* (header fields such as the IPv4 5-tuple) into one of ``n_buckets`` flow
buckets. A packet takes the **NIC path** (the plan's block cut) when its key fields are valid
and its bucket is in the NIC bucket set or its key is in the exact table of heavy flows; every
other packet (including packets without the key, e.g. non-IPv4) takes the **host path**: the
whole NF on the host kernel stage.

Per-flow state whose every access key holds the classifier key fields (*partitionable* state,
:func:`partitionable_state`) is split by flow: entries of NIC-path flows live where the plan
places the state, entries of host-path flows in a host-kernel copy of the same map. Since a
flow's key fixes its path, each entry is only ever touched from one side, so the union of the
two copies is the whole NF's state. Other written state must live on the host kernel stage.

One hash definition (:data:`HASH_STEPS`) serves the profile (:func:`flow_bucket`, Python),
the reference interpreter and the generated C (the classifier is emitted as IR ops by
:func:`cora.compiler.offload.split.split` from the same steps): 32-bit xor/add/shift ops per
key word and one final 32-bit multiply, so every modelled NIC can run it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cora.compiler.ir import IntType, IRError, Program
from cora.compiler.ir.headers import FLOW_FIELDS, ParsedFrame, load_field, parse_frame
from cora.compiler.ir.ops import field_width, header_field
from cora.errors import CoraError

#: Buckets of the flow hash when none is given (a power of two).
DEFAULT_N_BUCKETS = 256
#: Heavy flows a profile keeps (top-K by packets) when none is given.
DEFAULT_HEAVY_K = 4096

#: The IPv4 5-tuple as classifier key fields, in the built-in ``Flow`` order
#: (:data:`cora.compiler.ir.headers.FLOW_FIELDS`). ``l4.sport``/``l4.dport`` are the TCP or UDP
#: port (whichever header is valid).
FIVE_TUPLE: tuple[str, ...] = tuple(f"{h}.{f}" for _, _, h, f in FLOW_FIELDS)
#: Pseudo header ``l4``: the TCP or the UDP header, whichever the parser found.
L4_ALTERNATIVES = ("tcp", "udp")

#: The flow hash, one definition. Per 32-bit key word ``w``: the steps of ``per_word``; then
#: the steps of ``final``; then Fibonacci hashing ``bucket = (h * FIB_MULT mod 2**32) >>
#: (32 - log2 n_buckets)`` (Knuth, TAOCP vol. 3, section 6.4, multiplicative hashing with
#: the golden ratio). The per-word and final mixing are Bob Jenkins' one-at-a-time hash
#: ("A hash function for hash table lookup", Dr. Dobb's Journal, 1997) applied to 32-bit words
#: instead of bytes. Step forms: ``("xor_word",)``: h ^= w; ``("add_shl", k)``: h += h << k;
#: ``("xor_shr", k)``: h ^= h >> k; all mod 2**32.
HASH_STEPS: dict[str, tuple[tuple, ...]] = {
    "per_word": (("xor_word",), ("add_shl", 10), ("xor_shr", 6)),
    "final": (("add_shl", 3), ("xor_shr", 11), ("add_shl", 15)),
}
#: 2**32 / golden ratio, rounded to odd (Knuth's multiplicative hashing constant).
FIB_MULT = 0x9E3779B1
#: The hash's starting value.
HASH_SEED = 0
_M32 = 0xFFFFFFFF


class TrafficError(CoraError):
    """A traffic split or key that cannot be used (bad bucket count, unknown key field)."""


def log2_buckets(n_buckets: int) -> int:
    """``log2(n_buckets)``; TrafficError unless ``n_buckets`` is a power of two in 1..2**16."""
    if not isinstance(n_buckets, int) or n_buckets < 1 or n_buckets > 1 << 16 or \
            n_buckets & (n_buckets - 1):
        raise TrafficError(f"n_buckets must be a power of two in 1..65536, got {n_buckets!r}")
    return n_buckets.bit_length() - 1


def hash_step(h: int, step: tuple, word: int = 0) -> int:
    """One step of :data:`HASH_STEPS` on the 32-bit state ``h`` (``word``: the key word)."""
    if step[0] == "xor_word":
        return (h ^ word) & _M32
    if step[0] == "add_shl":
        return (h + (h << step[1])) & _M32
    if step[0] == "xor_shr":
        return h ^ (h >> step[1])
    raise TrafficError(f"unknown hash step {step!r}")


def flow_bucket(key_words: Sequence[int], n_buckets: int = DEFAULT_N_BUCKETS) -> int:
    """The flow bucket of a classifier key.

    Args:
        key_words: the key as 32-bit words (:func:`key_words`), each in 0..2**32-1.
        n_buckets: bucket count, a power of two (1..65536).
    Returns:
        the bucket, in ``0..n_buckets-1``.
    Raises:
        TrafficError: ``n_buckets`` is not a power of two.
    """
    bits = log2_buckets(n_buckets)
    h = HASH_SEED
    for w in key_words:
        for step in HASH_STEPS["per_word"]:
            h = hash_step(h, step, w & _M32)
    for step in HASH_STEPS["final"]:
        h = hash_step(h, step)
    if bits == 0:
        return 0
    return ((h * FIB_MULT) & _M32) >> (32 - bits)


def _split_field(name: str) -> tuple[str, str]:
    header, _, fld = name.partition(".")
    if not fld:
        raise TrafficError(f"key field {name!r} is not header.field")
    return header, fld


def key_field_width(name: str) -> int:
    """Register width (bits) of key field ``name`` (``ipv4.saddr``: 32, ``l4.sport``: 16).

    Raises:
        TrafficError: unknown header or field.
    """
    header, fld = _split_field(name)
    try:
        if header == "l4":
            return field_width(L4_ALTERNATIVES[0], fld)
        return field_width(header, fld)
    except IRError as exc:
        raise TrafficError(f"key field {name}: {exc}") from None


def key_words(values: Sequence[int], widths: Sequence[int]) -> list[int]:
    """A key's 32-bit words: a field of at most 32 bits is one word (zero-extended); a wider
    one is split into 32-bit words, most significant first. ``values``/``widths`` align."""
    out: list[int] = []
    for v, w in zip(values, widths, strict=True):
        n = max(1, (w + 31) // 32)
        for i in reversed(range(n)):
            out.append((v >> (32 * i)) & _M32)
    return out


def key_headers(key_fields: Sequence[str]) -> tuple[str, ...]:
    """Headers that must be valid for a packet to have the key (``l4`` as itself)."""
    out: list[str] = []
    for f in key_fields:
        h = _split_field(f)[0]
        if h not in out:
            out.append(h)
    return tuple(out)


def flow_key(frame: bytes | bytearray, key_fields: Sequence[str],
             parsed: ParsedFrame | None = None) -> tuple[int, ...] | None:
    """The classifier key of ``frame`` (values in ``key_fields`` order), or None when a key
    header is invalid (such a packet takes the host path). ``l4.*`` reads TCP if valid, else
    UDP; neither valid -> None. The same rule as the IR classifier of
    :func:`cora.compiler.offload.split.split` (checked by tests).
    """
    p = parsed if parsed is not None else parse_frame(frame)
    out = []
    for name in key_fields:
        header, fld = _split_field(name)
        if header == "l4":
            header = next((h for h in L4_ALTERNATIVES if p.valid(h)), "")
            if not header:
                return None
        elif not p.valid(header):
            return None
        out.append(load_field(frame, p.offsets[header], header_field(header, fld)))
    return tuple(out)


# ------------------------------------------------------------------------ key analysis

@dataclass(frozen=True)
class ClassifierKey:
    """The header fields the flow classifier hashes, e.g. ``("ipv4.saddr",)`` or
    :data:`FIVE_TUPLE`; ``l4.*`` is the TCP or UDP field.

    Attributes:
        fields: key field names in hash order.
    """

    fields: tuple[str, ...]

    @property
    def widths(self) -> tuple[int, ...]:
        """Register width of each field, bits."""
        return tuple(key_field_width(f) for f in self.fields)


def _canonical(header: str, fld: str) -> str:
    if header in L4_ALTERNATIVES and fld in ("sport", "dport"):
        return f"l4.{fld}"
    return f"{header}.{fld}"


def field_registers(program: Program) -> dict[str, str]:
    """Registers that hold one header field of the current packet on every path:
    register -> key field name (``ipv4.saddr``; a TCP or UDP port as ``l4.sport``).

    A register qualifies when every op assigning it (anywhere in the program) is a
    ``hdr.load`` of that field or a ``mov``/``zext`` of a qualifying register of the same
    field (a program-wide, flow-insensitive reaching-definitions approximation).
    """
    defs: dict[str, list] = {}
    for _, op in program.ops():
        if op.dest is not None:
            defs.setdefault(op.dest, []).append(op)
    out: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for reg, ops in defs.items():
            if reg in out or not isinstance(program.regs.get(reg), IntType):
                continue
            seen: set[str | None] = set()
            for op in ops:
                if op.opcode == "hdr.load":
                    seen.add(_canonical(op.attrs["header"], op.attrs["field"]))
                elif op.opcode in ("mov", "zext") and op.args[0] in out:
                    seen.add(out[op.args[0]])
                else:
                    seen.add(None)
            if len(seen) == 1 and None not in seen:
                out[reg] = next(iter(seen))  # type: ignore[assignment]
                changed = True
    return out


def _key_operands(program: Program, op) -> tuple[str, ...] | None:
    """The key operands of a map access op (lookup/update/delete), else None."""
    if op.opcode in ("map.lookup", "map.delete"):
        return tuple(op.args)
    if op.opcode == "map.update":
        return tuple(op.args[:op.attrs["nkeys"]])
    return None


def state_key_fields(program: Program) -> dict[str, tuple[str | None, ...]]:
    """Per state accessed through a key: the key field each key position holds in EVERY
    access (None where accesses disagree or the key part is computed, e.g. a hash)."""
    regs = field_registers(program)
    out: dict[str, tuple[str | None, ...]] = {}
    for _, op in program.ops():
        keys = _key_operands(program, op)
        if keys is None:
            continue
        fields = tuple(regs.get(k) for k in keys)
        name = op.attrs["state"]
        prev = out.get(name)
        if prev is None:
            out[name] = fields
        elif len(prev) != len(fields):
            out[name] = tuple(None for _ in prev)
        else:
            out[name] = tuple(a if a == b else None for a, b in zip(prev, fields, strict=True))
    return out


def _written(program: Program) -> set[str]:
    return {w for _, op in program.ops() for w in op.state_writes()}


def _order(fields: set[str]) -> tuple[str, ...]:
    return tuple([f for f in FIVE_TUPLE if f in fields] +
                 sorted(f for f in fields if f not in FIVE_TUPLE))


def partitionable_state(program: Program, key: ClassifierKey | Sequence[str]
                        ) -> frozenset[str]:
    """Written state objects whose every access key holds every classifier key field (at a
    position that holds the same field in every access), so their entries can be split by
    flow group: the entry's key fixes the key fields of every packet touching it, hence its
    path. Read-only states are replicated whole and never listed.

    Args:
        program: a verified IR program.
        key: a :class:`ClassifierKey` or its field names.
    Returns:
        the state names.
    """
    fields = set(key.fields if isinstance(key, ClassifierKey) else key)
    if not fields:
        return frozenset()
    per_state = state_key_fields(program)
    written = _written(program)
    return frozenset(n for n, fs in per_state.items()
                     if n in written and fields <= {f for f in fs if f is not None})


def bounded_state(program: Program, key: ClassifierKey | Sequence[str]) -> frozenset[str]:
    """Partitionable states (:func:`partitionable_state`) whose access key is made of
    classifier key fields only: every key position holds a key field in every access, so a
    state entry is a function of the packet's classifier key and the entries a set of
    classified flows needs are at most the number of those flows (the ``F`` of a traffic
    split). A partitionable state with a finer key (lb's 5-tuple ``conns`` under a key of
    ``ipv4.proto`` alone) may need any number of entries per classified flow.

    Returns:
        the state names.
    """
    fields = set(key.fields if isinstance(key, ClassifierKey) else key)
    per_state = state_key_fields(program)
    return frozenset(n for n in partitionable_state(program, key)
                     if all(f is not None and f in fields for f in per_state[n]))


def classifier_key(program: Program) -> ClassifierKey:
    """The classifier key of ``program``: among the largest set of header fields that every
    per-flow written state's access key holds and each such state's own field set, the key
    that bounds the most states (:func:`bounded_state`: their NIC entries are at most the
    classified flows, so a NIC that holds only a fixed set of flows can hold them), then
    makes the most states partitionable (:func:`partitionable_state`), then has the most
    fields (dataflow over the IR: :func:`state_key_fields`). No per-flow state: the IPv4
    5-tuple. Fields in :data:`FIVE_TUPLE` order first, others sorted.
    """
    written = _written(program)
    sets = [frozenset(f for f in fs if f is not None)
            for n, fs in state_key_fields(program).items() if n in written]
    sets = [s for s in sets if s]
    if not sets:
        return ClassifierKey(FIVE_TUPLE)
    common = frozenset.intersection(*sets)
    cands: list[frozenset[str]] = sorted(set(sets) | ({common} if common else set()),
                                         key=lambda s: _order(set(s)))

    def score(c: frozenset[str]) -> tuple[int, int, int, int]:
        return (len(bounded_state(program, _order(set(c)))), sum(c <= s for s in sets),
                int(c == common), len(c))
    best: frozenset[str] = max(cands, key=score)
    return ClassifierKey(_order(set(best)))


def no_eviction_states(program: Program, key: ClassifierKey | Sequence[str], model,
                       heavy_entries: int) -> dict[str, str]:
    """States a NIC ``model`` may hold only as a table that never fills, with the kind it
    uses for each: ``{state: kind}`` for every :func:`bounded_state` whose kind the model
    holds through ``holds_without_eviction`` (Agilio: an ``lru_hash`` as a ``hash``) and
    whose capacity is at least ``heavy_entries`` (the NIC's exact table of heavy flows).
    Such a state is on the NIC only under a traffic split whose NIC path is the heavy-flow
    table alone: a fixed set of at most ``heavy_entries`` flows, so the table never holds
    more entries than that and never evicts (a hash bucket admits any number of flows).
    Models without ``holds_without_eviction`` give ``{}``.
    """
    holds = getattr(model, "holds_without_eviction", None)
    if holds is None:
        return {}
    out: dict[str, str] = {}
    for name in sorted(bounded_state(program, key)):
        st = program.state(name)
        kind = holds(st.kind)
        if kind is not None and kind != st.kind and st.capacity >= heavy_entries:
            out[name] = kind
    return out


# ------------------------------------------------------------------------ the split

@dataclass(frozen=True)
class TrafficSplit:
    """Which packets take a plan's NIC path (module docstring for the semantics).

    Attributes:
        key_fields: classifier key fields (:class:`ClassifierKey`).
        n_buckets: flow buckets, a power of two.
        nic_buckets: buckets whose flows take the NIC path.
        heavy_keys: exact keys (values in ``key_fields`` order) that take the NIC path
            whatever their bucket (heavy flows; the table's capacity comes from the NIC model).
        heavy_capacity: entries of the NIC's heavy-key table (0: ``len(heavy_keys)``), so the
            control plane can install more keys later (:attr:`heavy_table_entries`).
    """

    key_fields: tuple[str, ...]
    n_buckets: int = DEFAULT_N_BUCKETS
    nic_buckets: frozenset[int] = frozenset()
    heavy_keys: tuple[tuple[int, ...], ...] = ()
    heavy_capacity: int = 0

    def __post_init__(self) -> None:
        log2_buckets(self.n_buckets)
        if not self.key_fields:
            raise TrafficError("a traffic split needs at least one key field")
        for f in self.key_fields:
            key_field_width(f)
        bad = [b for b in self.nic_buckets if not 0 <= b < self.n_buckets]
        if bad:
            raise TrafficError(f"nic bucket {bad[0]} outside 0..{self.n_buckets - 1}")
        for k in self.heavy_keys:
            if len(k) != len(self.key_fields):
                raise TrafficError(f"heavy key {k} has {len(k)} values, the key has "
                                   f"{len(self.key_fields)} fields")
        if self.heavy_capacity and self.heavy_capacity < len(set(self.heavy_keys)):
            raise TrafficError(f"{len(set(self.heavy_keys))} heavy keys exceed the table's "
                               f"{self.heavy_capacity} entries")

    @property
    def heavy_table_entries(self) -> int:
        """Entries of the NIC's heavy-key table (at least 1)."""
        return max(1, self.heavy_capacity or len(set(self.heavy_keys)))

    @property
    def widths(self) -> tuple[int, ...]:
        """Register width of each key field, bits."""
        return ClassifierKey(self.key_fields).widths

    def bucket(self, key: Sequence[int]) -> int:
        """The bucket of a key (values in ``key_fields`` order)."""
        return flow_bucket(key_words(key, self.widths), self.n_buckets)

    def nic_path(self, key: Sequence[int] | None) -> bool:
        """Whether a packet with classifier key ``key`` (None: no key) takes the NIC path."""
        if key is None:
            return False
        return self.bucket(key) in self.nic_buckets or tuple(key) in set(self.heavy_keys)

    def frame_path(self, frame: bytes | bytearray) -> str:
        """``"nic"`` or ``"host"``: the path the classifier gives ``frame``."""
        return "nic" if self.nic_path(flow_key(frame, self.key_fields)) else "host"

    def to_json(self) -> dict:
        """JSON-ready dict: ``key_fields``, ``n_buckets``, ``nic_buckets`` (sorted list),
        ``heavy_keys`` (list of lists), ``heavy_capacity``."""
        return {"key_fields": list(self.key_fields), "n_buckets": self.n_buckets,
                "nic_buckets": sorted(self.nic_buckets),
                "heavy_keys": [list(k) for k in self.heavy_keys],
                "heavy_capacity": self.heavy_capacity}

    @classmethod
    def from_json(cls, data: dict) -> TrafficSplit:
        """Inverse of :meth:`to_json`. Raises TrafficError on a malformed dict."""
        try:
            return cls(tuple(str(f) for f in data["key_fields"]), int(data["n_buckets"]),
                       frozenset(int(b) for b in data.get("nic_buckets", [])),
                       tuple(tuple(int(v) for v in k) for k in data.get("heavy_keys", [])),
                       int(data.get("heavy_capacity", 0)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, TrafficError):
                raise
            raise TrafficError(f"malformed traffic split ({type(exc).__name__}: {exc})") \
                from None


__all__ = ["DEFAULT_HEAVY_K", "DEFAULT_N_BUCKETS", "FIB_MULT", "FIVE_TUPLE", "HASH_STEPS",
           "ClassifierKey", "TrafficError", "TrafficSplit", "classifier_key", "field_registers",
           "flow_bucket", "flow_key", "hash_step", "key_field_width", "key_headers",
           "key_words", "log2_buckets", "no_eviction_states", "partitionable_state",
           "bounded_state", "state_key_fields"]
