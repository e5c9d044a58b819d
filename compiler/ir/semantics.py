"""Small pure functions that define cora's arithmetic, hashing, PRNG and checksum semantics.

Every engine must compute exactly these: the reference interpreter (:mod:`interp`) calls them,
and the C code generator (``targets/xdp``) emits their C equivalents line for line. Each
function's docstring states the formula and its source, so a C port can be checked against it.

All integers are Python ints holding unsigned values; ``width`` is a bit width in
:data:`cora.compiler.ir.INT_WIDTHS` (1, 8, 16, 32, 48, 64, 128).
"""

from __future__ import annotations

from collections.abc import Iterable

M16 = 0xFFFF
M32 = 0xFFFF_FFFF
M64 = 0xFFFF_FFFF_FFFF_FFFF

#: splitmix64's additive constant, 2**64 / golden ratio (Steele, Lea, Flood, OOPSLA 2014).
GOLDEN_GAMMA = 0x9E37_79B9_7F4A_7C15
#: splitmix64 finaliser multipliers (Stafford's "Mix13" variant used by splitmix64, ibid.).
MIX_MUL1 = 0xBF58_476D_1CE4_E5B9
MIX_MUL2 = 0x94D0_49BB_1331_11EB


# ------------------------------------------------------------------------ wrapping arithmetic

def mask(width: int) -> int:
    """All-ones value of ``width`` bits: ``2**width - 1``."""
    return (1 << width) - 1


def wrap(value: int, width: int) -> int:
    """``value`` modulo ``2**width`` (two's-complement wrap of any Python int)."""
    return value & ((1 << width) - 1)


def add(a: int, b: int, width: int) -> int:
    """``(a + b) mod 2**width``."""
    return (a + b) & ((1 << width) - 1)


def sub(a: int, b: int, width: int) -> int:
    """``(a - b) mod 2**width`` (wraps below zero, as unsigned C arithmetic)."""
    return (a - b) & ((1 << width) - 1)


def mul(a: int, b: int, width: int) -> int:
    """``(a * b) mod 2**width``."""
    return (a * b) & ((1 << width) - 1)


def div(a: int, b: int, width: int) -> int:
    """Unsigned ``a / b`` truncated; division by zero gives 0.

    Source: eBPF instruction set (kernel Documentation/bpf/standardization/
    instruction-set.rst, "Arithmetic instructions"): ``BPF_DIV`` by 0 sets the destination to 0.
    """
    return 0 if b == 0 else (a // b) & ((1 << width) - 1)


def mod(a: int, b: int, width: int) -> int:
    """Unsigned ``a % b``; modulo by zero gives the dividend ``a``.

    Source: eBPF instruction set (as :func:`div`): ``BPF_MOD`` by 0 leaves the destination.
    """
    return a & ((1 << width) - 1) if b == 0 else a % b


def shl(a: int, b: int, width: int) -> int:
    """``(a << b) mod 2**width``; a shift count ``b >= width`` gives 0 (not C's UB)."""
    return 0 if b >= width else (a << b) & ((1 << width) - 1)


def shr(a: int, b: int, width: int) -> int:
    """Logical ``a >> b``; a shift count ``b >= width`` gives 0."""
    return 0 if b >= width else a >> b


def bit_not(a: int, width: int) -> int:
    """Bitwise complement within ``width`` bits: ``a ^ (2**width - 1)``."""
    return a ^ ((1 << width) - 1)


# ------------------------------------------------------------- signed (two's complement)
# Registers hold bit patterns; the signed ops read them as two's-complement numbers of their
# width (the representation C, eBPF and P4's int<W> use). Division truncates toward zero and
# the remainder takes the dividend's sign, as in C99 6.5.5 and eBPF's BPF_SDIV/BPF_SMOD
# (kernel Documentation/bpf/standardization/instruction-set.rst, "Arithmetic instructions").

def to_signed(a: int, width: int) -> int:
    """The two's-complement value of the ``width``-bit pattern ``a``: ``a - 2**width`` when
    bit ``width-1`` is set, else ``a``."""
    a &= (1 << width) - 1
    return a - (1 << width) if a >> (width - 1) else a


def sdiv(a: int, b: int, width: int) -> int:
    """Signed ``a / b`` truncated toward zero, wrapped to ``width`` bits; division by zero
    gives 0 (as :func:`div`); ``MIN / -1`` wraps to ``MIN``."""
    x, y = to_signed(a, width), to_signed(b, width)
    if y == 0:
        return 0
    q = abs(x) // abs(y)
    return wrap(-q if (x < 0) != (y < 0) else q, width)


def smod(a: int, b: int, width: int) -> int:
    """Signed ``a % b`` with the dividend's sign (``a == (a/b)*b + a%b``); modulo by zero gives
    the dividend ``a`` (as :func:`mod`); ``MIN % -1`` is 0."""
    x, y = to_signed(a, width), to_signed(b, width)
    if y == 0:
        return wrap(a, width)
    r = abs(x) % abs(y)
    return wrap(-r if x < 0 else r, width)


def sar(a: int, b: int, width: int) -> int:
    """Arithmetic ``a >> b``: copies of the sign bit shift in; a count ``b >= width`` gives
    all sign bits (0 or -1)."""
    return wrap(to_signed(a, width) >> min(b, width), width)


def sext(a: int, from_width: int, width: int) -> int:
    """Sign-extend the ``from_width``-bit pattern ``a`` to ``width`` bits."""
    return wrap(to_signed(a, from_width), width)


def slt(a: int, b: int, width: int) -> int:
    """Signed ``a < b`` as 0/1."""
    return int(to_signed(a, width) < to_signed(b, width))


def sle(a: int, b: int, width: int) -> int:
    """Signed ``a <= b`` as 0/1."""
    return int(to_signed(a, width) <= to_signed(b, width))


def sgt(a: int, b: int, width: int) -> int:
    """Signed ``a > b`` as 0/1."""
    return int(to_signed(a, width) > to_signed(b, width))


def sge(a: int, b: int, width: int) -> int:
    """Signed ``a >= b`` as 0/1."""
    return int(to_signed(a, width) >= to_signed(b, width))


# --------------------------------------------------------------------------------- hashing

def mix64(z: int) -> int:
    """The splitmix64 finaliser (Steele, Lea, Flood, "Fast splittable pseudorandom number
    generators", OOPSLA 2014; constants from the reference ``splitmix64.c``, Vigna 2015)::

        z ^= z >> 30; z *= 0xBF58476D1CE4E5B9;
        z ^= z >> 27; z *= 0x94D049BB133111EB;
        z ^= z >> 31;            (all modulo 2**64)

    Known answer: the splitmix64 generator seeded with 0 outputs ``mix64(k * GOLDEN_GAMMA)``
    for k = 1, 2, ...: 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, ...
    """
    z &= M64
    z = ((z ^ (z >> 30)) * MIX_MUL1) & M64
    z = ((z ^ (z >> 27)) * MIX_MUL2) & M64
    return z ^ (z >> 31)


def hash32(seed: int, values_with_widths: Iterable[tuple[int, int]]) -> int:
    """cora's ``hash(...)`` / the IR ``hash`` op: a 32-bit hash of integer operands.

    Algorithm (cora IR, docs in :mod:`cora.compiler.ir`)::

        h = (seed + 0x9E3779B97F4A7C15) mod 2**64
        for (v, width) in operands:
            v &= 2**width - 1
            if width > 64:  h = mix64(h ^ (v >> 64)); h = mix64(h ^ (v & (2**64-1)))
            else:           h = mix64(h ^ v)
        return (h ^ (h >> 32)) & 0xFFFFFFFF

    with :func:`mix64` the splitmix64 finaliser. 128-bit operands (IPv6 addresses) feed their
    high then their low 64-bit half.

    Args:
        seed: the op's seed (taken modulo 2**64).
        values_with_widths: ``(value, width_bits)`` per operand, in operand order.
    Returns:
        the hash, an int in [0, 2**32).
    """
    h = (seed + GOLDEN_GAMMA) & M64
    for v, width in values_with_widths:
        v &= (1 << width) - 1
        if width > 64:
            h = mix64(h ^ (v >> 64))
            h = mix64(h ^ (v & M64))
        else:
            h = mix64(h ^ v)
    return (h ^ (h >> 32)) & M32


# ------------------------------------------------------------------------------------ PRNG

def xorshift32(state: int) -> int:
    """One step of Marsaglia's xorshift32 (G. Marsaglia, "Xorshift RNGs", J. Stat. Software
    8(14), 2003, shifts (13, 17, 5))::

        x ^= x << 13; x ^= x >> 17; x ^= x << 5;   (32-bit unsigned)

    Returns the new state, which is also the value ``rand()`` yields. A zero state stays zero,
    so seeds must be non-zero. Known answer: from state 1 the first output is 270369
    (0x00042021).
    """
    x = state & M32
    x ^= (x << 13) & M32
    x ^= x >> 17
    x ^= (x << 5) & M32
    return x


# ------------------------------------------------------------------------------- checksums

def fold16(total: int) -> int:
    """Fold a non-negative sum of 16-bit words into 16 bits with end-around carry
    (ones'-complement addition, RFC 1071 section 4.1): ``while total >> 16: total =
    (total & 0xFFFF) + (total >> 16)``. A non-zero input never folds to 0."""
    while total >> 16:
        total = (total & M16) + (total >> 16)
    return total


def internet_checksum(data: bytes | bytearray) -> int:
    """The Internet checksum of ``data`` (RFC 1071): the ones' complement of the ones'-
    complement sum of the big-endian 16-bit words, an odd last byte padded with a zero byte.

    Returns an int in [0, 0xFFFF]. Over data that includes a correct checksum it returns 0.
    """
    if len(data) % 2:
        data = bytes(data) + b"\x00"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    return ~fold16(total) & M16


def csum_replace(checksum: int, old_words: Iterable[int], new_words: Iterable[int]) -> int:
    """Incremental checksum update, RFC 1624 eqn. 3 generalised to several words::

        HC' = ~(~HC + sum(~m_i) + sum(m'_i))

    where the sums are ones'-complement sums (:func:`fold16` of the plain integer sum, folded
    once at the end), ``~`` is the 16-bit complement, ``m_i`` the old and ``m'_i`` the new
    value of each 16-bit word that the write covers (every word overlapping the written
    field, changed or not).

    Args:
        checksum: the stored checksum HC (16 bits).
        old_words, new_words: the covered words before and after the write, same order/length.
    Returns:
        HC' in [0, 0xFFFF]; it is 0xFFFF only when every term of the sum is 0 (RFC 1624
        section 3 explains why eqn. 3, not eqn. 2, is used).
    """
    total = ~checksum & M16
    for m in old_words:
        total += ~m & M16
    for m in new_words:
        total += m
    return ~fold16(total) & M16


def words16(data: bytes | bytearray) -> list[int]:
    """Big-endian 16-bit words of an even-length byte string."""
    return [(data[i] << 8) | data[i + 1] for i in range(0, len(data) - 1, 2)]


def udp_checksum_out(computed: int) -> int:
    """The value written to a UDP checksum field for a computed checksum: 0 is sent as
    0xFFFF because 0 means "no checksum" (RFC 768, "If the computed checksum is zero, it is
    transmitted as all ones")."""
    return M16 if computed == 0 else computed
