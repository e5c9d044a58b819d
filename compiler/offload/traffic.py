"""PLACEHOLDER written by helper "plan" against /work/wt/TRAFFIC_SPEC.md until helper
"traffic" commits the real module (its version replaces this file on merge).

Flow classifier of a traffic-split plan: a 32-bit hash of the classifier key into
``n_buckets`` flow buckets, plus an exact table of heavy flows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cora.compiler.ir import Program

FIVE_TUPLE = ("ipv4.src", "ipv4.dst", "ipv4.proto", "l4.sport", "l4.dport")


def flow_bucket(key_words: Sequence[int], n_buckets: int) -> int:
    """Bucket of a flow key (32-bit words): FNV-1a-like mixing with one 32-bit multiply."""
    h = 0x811C9DC5
    for w in key_words:
        h = ((h ^ (int(w) & 0xFFFFFFFF)) * 0x01000193) & 0xFFFFFFFF
    h ^= h >> 16
    return h & (n_buckets - 1)


@dataclass(frozen=True)
class TrafficSplit:
    """Which packets take the NIC path (see TRAFFIC_SPEC.md)."""

    key_fields: tuple[str, ...]
    n_buckets: int
    nic_buckets: frozenset[int]
    heavy_keys: tuple[tuple[int, ...], ...] = ()

    def to_json(self) -> dict:
        """JSON-ready dict."""
        return {"key_fields": list(self.key_fields), "n_buckets": self.n_buckets,
                "nic_buckets": sorted(self.nic_buckets),
                "heavy_keys": [list(k) for k in self.heavy_keys]}

    @classmethod
    def from_json(cls, data: dict) -> TrafficSplit:
        """Inverse of :meth:`to_json`."""
        return cls(tuple(data["key_fields"]), int(data["n_buckets"]),
                   frozenset(int(b) for b in data["nic_buckets"]),
                   tuple(tuple(int(w) for w in k) for k in data.get("heavy_keys", [])))


def classifier_key(program: Program) -> tuple[str, ...]:
    """Placeholder: the IPv4 5-tuple."""
    return FIVE_TUPLE


def partitionable_state(program: Program, key) -> frozenset[str]:
    """Placeholder: every hash-like state (per-flow tables)."""
    return frozenset(s.name for s in program.states if s.kind in ("hash", "lru_hash"))
