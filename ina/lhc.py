"""Lossless homomorphic compression (LHC) of sparse int32 tensors, exact, in numpy.

After Li et al., "Accelerating Distributed Deep Learning using Lossless Homomorphic
Compression" (MLSys'24, arXiv 2402.07529), done in integers: the network only ORs (support
bitmaps) and adds (count sketches), so both reductions run on the INA aggregator.

* **Support bitmap**: bit i of a worker's bitmap is set when its element i is non-zero;
  bitmaps are packed little-endian into int32 words (:func:`pack_bitmap`, ceil(n/32) words)
  and OR-reduced; the OR is the union support U (u = |U| positions).
* **Count sketch** with k = 3 cells per position and partitioned hashing: the m cells are
  three equal parts and position p has one cell in each part (so its 3 cells are distinct),
  ``cell_j(p) = j*m/3 + h(p, j, seed) mod m/3`` with a sign ``s_j(p) = +-1`` from the top bit
  of the same 64-bit hash (splitmix64, Steele et al., OOPSLA'14). A worker adds ``s_j(p) x_p``
  into cell_j(p) for each of its non-zero x_p; the sketch is linear, so the sum of the
  workers' sketches is the sketch of the summed tensor over U.
* **Peeling** (the decoding of invertible Bloom lookup tables, Goodrich & Mitzenmacher 2011):
  with U known, a cell whose only unresolved position is p gives ``x_p = s_j(p) * cell``;
  per cell the count of unresolved positions and the sum of their indices name p; resolved
  positions are subtracted from their three cells, in vectorised rounds, in int64.
  Peeling finishes with high probability when u/m stays below the 3-uniform hypergraph
  2-core threshold c* ~ 0.818 (Molloy 2005; the same threshold for partitioned hashing).
* **Size**: :func:`sketch_cells` uses load u/m <= :data:`LOAD` = 0.75 and at least
  :data:`MIN_CELLS` cells. Why 0.75: c* is asymptotic; close to it the chance that a finite
  random hypergraph keeps a 2-core is large for the thousands of positions of a gradient
  chunk (and each stall costs a fallback round), while 0.75 (8% under c*) makes a stall
  rare in our tests (see tests/ina/test_lhc.py) and costs 9% more cells than 0.818. Tiny
  unions stall far more often at any load, hence the minimum size.
* **Fallback**: the positions still unresolved when peeling stalls depend only on U, the seed
  and the aggregated sketch, which every worker has, so every worker computes the same set
  and they all-reduce those positions densely. The result always equals the dense sum.
"""

from __future__ import annotations

import numpy as np

#: items per cell used to size a sketch, below the 3-hypergraph peelability threshold 0.818
LOAD = 0.75
#: 3-uniform hypergraph 2-core (peelability) threshold, Molloy 2005 / Dietzfelbinger et al.
PEEL_THRESHOLD = 0.818
#: smallest sketch (cells): small random hypergraphs keep a 2-core far more often
MIN_CELLS = 48
#: cells per position
K_HASH = 3

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser of a uint64 array (wraps mod 2**64, elementwise)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


#: one bincount pass is exact while every cell sums fewer than 2**27 terms of 26 bits
_SPLIT_BITS = 26


def _add_exact(out: np.ndarray, cells: np.ndarray, terms: np.ndarray) -> None:
    """``out[cells] += terms`` for int64 ``out``/``terms`` (|terms| < 2**62), exactly, with
    repeated cells: two float64 bincounts of the 26-bit halves (each sum stays below 2**53
    for fewer than 2**27 terms), much faster than ``np.add.at``; more terms: ``np.add.at``."""
    if terms.size >= 1 << 27:
        np.add.at(out, cells, terms)
        return
    m = out.size
    if terms.size == 0:
        return
    if int(np.abs(terms).max()) * terms.size < 1 << 53:  # every partial sum exact in float64
        out += np.rint(np.bincount(cells, terms.astype(np.float64), m)).astype(np.int64)
        return
    lo = terms & ((1 << _SPLIT_BITS) - 1)                 # 0 .. 2**26-1
    hi = terms >> _SPLIT_BITS                             # floor division, signed
    lo_sum = np.rint(np.bincount(cells, lo.astype(np.float64), m)).astype(np.int64)
    hi_sum = np.rint(np.bincount(cells, hi.astype(np.float64), m)).astype(np.int64)
    out += (hi_sum << _SPLIT_BITS) + lo_sum


def pack_bitmap(mask: np.ndarray) -> np.ndarray:
    """Bool mask of shape (n,) -> int32 words, shape (ceil(n/32),): bit b of word w is
    element 32w + b (little-endian bit order)."""
    mask = np.asarray(mask, bool).ravel()
    n_words = -(-mask.size // 32)
    bits = np.zeros(n_words * 32, np.uint8)
    bits[:mask.size] = mask
    return np.packbits(bits, bitorder="little").view("<u4").astype(np.uint32).view(np.int32)


def unpack_bitmap(words: np.ndarray, n: int) -> np.ndarray:
    """The inverse of :func:`pack_bitmap`: int32 words -> bool mask of shape (n,).

    Raises:
        ValueError: fewer than ceil(n/32) words.
    """
    w = np.ascontiguousarray(words, np.int32)
    if w.size * 32 < n:
        raise ValueError(f"{w.size} bitmap words cannot hold {n} bits")
    raw = w.astype("<i4").view(np.uint8)
    return np.unpackbits(raw, bitorder="little")[:n].astype(bool)


def sketch_cells(u: int, load: float = LOAD, min_cells: int = MIN_CELLS) -> int:
    """Cells of a sketch for a union of ``u`` positions: a multiple of 3, at least
    ``u / load`` and ``min_cells``; 0 when u == 0 (nothing to send).

    Raises:
        ValueError: u < 0 or load outside (0, PEEL_THRESHOLD].
    """
    if u < 0:
        raise ValueError(f"union size {u} < 0")
    if not 0 < load <= PEEL_THRESHOLD:
        raise ValueError(f"load {load} outside (0, {PEEL_THRESHOLD}]: the sketch would not peel")
    if u == 0:
        return 0
    need = max(int(np.ceil(u / load)), min_cells)
    return 3 * -(-need // 3)


def cells_and_signs(positions: np.ndarray, m: int, seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The 3 cells and signs of each position.

    Args:
        positions: int array of shape (u,), element indices. m: cells, a positive multiple
            of 3. seed: 0..2**32-1, the same on every worker.
    Returns:
        (cells int64 of shape (u, 3), cell j in [j*m/3, (j+1)*m/3); signs int64 (u, 3) of +-1).
    Raises:
        ValueError: m not a positive multiple of 3.
    """
    if m <= 0 or m % 3:
        raise ValueError(f"sketch size {m} is not a positive multiple of 3")
    part = m // 3
    key = (np.asarray(positions, np.int64).astype(np.uint64)[:, None] * np.uint64(4)
           + np.arange(K_HASH, dtype=np.uint64)[None, :])
    h = _splitmix64(key ^ _splitmix64(np.array([seed], np.uint64)))
    cells = (h % np.uint64(part)).astype(np.int64) + np.arange(K_HASH, dtype=np.int64) * part
    signs = 1 - 2 * (h >> np.uint64(63)).astype(np.int64)
    return cells, signs


def encode_sketch(positions: np.ndarray, values: np.ndarray, m: int, seed: int = 0
                  ) -> np.ndarray:
    """The count sketch of ``values`` at ``positions``: int64 cells of shape (m,), exact.

    Args:
        positions: (r,) element indices (distinct); values: (r,) integers.
    """
    cells, signs = cells_and_signs(positions, m, seed)
    out = np.zeros(m, np.int64)
    _add_exact(out, cells.ravel(), (signs * np.asarray(values, np.int64)[:, None]).ravel())
    return out


def peel(sketch: np.ndarray, positions: np.ndarray, seed: int = 0
         ) -> tuple[np.ndarray, np.ndarray]:
    """Recover the values at ``positions`` (the union U) from an aggregated sketch.

    Args:
        sketch: integer cells of shape (m,), the exact sum of the workers' sketches.
        positions: (u,) distinct element indices, every position any worker sketched.
    Returns:
        (values int64 of shape (u,), resolved bool of shape (u,)); unresolved values are 0.
        Every resolved value is exact when the sketch is.
    """
    m = int(np.asarray(sketch).size)
    u = int(np.asarray(positions).size)
    values = np.zeros(u, np.int64)
    resolved = np.zeros(u, bool)
    if u == 0:
        return values, resolved
    cells, signs = cells_and_signs(positions, m, seed)
    rest = np.asarray(sketch, np.int64).copy()
    part = m // 3
    flat = cells.ravel()
    load = np.bincount(flat, minlength=m)         # unresolved positions per cell
    # the sum of their indices into ``positions`` (names the one when load is 1; < 2**53)
    owner = np.rint(np.bincount(flat, np.repeat(np.arange(u, dtype=np.float64), K_HASH),
                                m)).astype(np.int64)
    while True:
        pure = np.flatnonzero(load == 1)          # the cell holds exactly one unresolved
        if pure.size == 0:
            break                                 # done, or a 2-core remains (fallback)
        idx, first = np.unique(owner[pure], return_index=True)
        cell = pure[first]
        j = cell // part
        v = signs[idx, j] * rest[cell]
        values[idx] = v
        resolved[idx] = True
        c = cells[idx].ravel()
        _add_exact(rest, c, (-signs[idx] * v[:, None]).ravel())
        load -= np.bincount(c, minlength=m)
        owner -= np.rint(np.bincount(c, np.repeat(idx.astype(np.float64), K_HASH),
                                     m)).astype(np.int64)
    return values, resolved
