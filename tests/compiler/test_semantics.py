"""Known answers and properties of cora.compiler.ir.semantics (hash, PRNG, checksums,
arithmetic)."""

import random

from hypothesis import given
from hypothesis import strategies as st
from scapy.utils import checksum as scapy_checksum

from cora.compiler.ir import semantics as sem


def test_mix64_matches_published_splitmix64_seed0_outputs():
    # splitmix64 with state 0 outputs mix64(k * gamma), k = 1, 2, ...; first outputs as
    # published with the reference splitmix64.c (Vigna) / xoshiro seeding.
    expected = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC]
    got = [sem.mix64((k * sem.GOLDEN_GAMMA) & sem.M64) for k in range(1, 5)]
    assert got == expected


def test_hash32_definition_on_known_vector():
    # seed 0, one 64-bit operand 0: h = mix64(gamma ^ 0) = 0xE220A8397B1DCDAF, folded.
    assert sem.hash32(0, [(0, 64)]) == 0xE220A839 ^ 0x7B1DCDAF
    # The same operand at another width hashes alike (width only masks and splits 128-bit).
    assert sem.hash32(0, [(0, 32)]) == sem.hash32(0, [(0, 8)])
    # seed shifts the start: seed = gamma gives h0 = 2*gamma -> second splitmix64 output
    # for operand 0.
    h = 0x6E789E6AA1B965F4
    assert sem.hash32(sem.GOLDEN_GAMMA, [(0, 64)]) == (h ^ (h >> 32)) & sem.M32


def test_hash32_128_bit_operand_is_high_then_low_half():
    hi, lo = 0x20010DB8_00000000, 0x00000000_00000001
    assert sem.hash32(7, [((hi << 64) | lo, 128)]) == sem.hash32(7, [(hi, 64), (lo, 64)])
    assert sem.hash32(7, [((hi << 64) | lo, 128)]) != sem.hash32(7, [(lo, 64), (hi, 64)])


@given(st.integers(0, 2**64 - 1), st.lists(st.tuples(st.integers(0, 2**32 - 1),
                                                      st.sampled_from([8, 16, 32]))))
def test_hash32_masks_operands_to_their_width(seed, vals):
    wide = [(v | (1 << w) * 5, w) for v, w in vals]   # junk above the width is ignored
    assert sem.hash32(seed, vals) == sem.hash32(seed, wide)
    assert 0 <= sem.hash32(seed, vals) < 2**32


def test_xorshift32_known_answers():
    # From state 1: x ^= x<<13 -> 0x2001; x ^= x>>17 -> 0x2001; x ^= x<<5 -> 0x42021.
    assert sem.xorshift32(1) == 270369
    x, out = 1, []
    for _ in range(3):
        x = sem.xorshift32(x)
        out.append(x)
    assert out == [270369, 67634689, 2647435461]
    assert sem.xorshift32(0) == 0


def test_xorshift32_full_period_sample():
    # A bijection on non-zero states: 10,000 steps never repeat nor reach 0.
    x, seen = 1, set()
    for _ in range(10_000):
        x = sem.xorshift32(x)
        assert x and x not in seen
        seen.add(x)


@given(st.integers(1, 64).flatmap(lambda w: st.tuples(
    st.just(w), st.integers(0, 2**w - 1), st.integers(0, 2**w - 1))))
def test_wrapping_arithmetic(args):
    w, a, b = args
    m = 2**w
    assert sem.add(a, b, w) == (a + b) % m
    assert sem.sub(a, b, w) == (a - b) % m
    assert sem.mul(a, b, w) == (a * b) % m
    assert sem.div(a, b, w) == (0 if b == 0 else a // b)
    assert sem.mod(a, b, w) == (a if b == 0 else a % b)
    assert sem.shl(a, b, w) == (0 if b >= w else (a << b) % m)
    assert sem.shr(a, b, w) == (0 if b >= w else a >> b)
    assert sem.bit_not(a, w) == m - 1 - a


def test_shift_edge_cases():
    assert sem.shl(1, 32, 32) == 0 and sem.shr(2**31, 32, 32) == 0
    assert sem.shl(1, 31, 32) == 2**31 and sem.shr(2**31, 31, 32) == 1
    assert sem.div(5, 0, 8) == 0 and sem.mod(5, 0, 8) == 5


@given(st.binary(min_size=0, max_size=64))
def test_internet_checksum_matches_scapy(data):
    assert sem.internet_checksum(data) == scapy_checksum(data)


@given(st.binary(min_size=20, max_size=60).filter(lambda b: len(b) % 2 == 0 and any(b)),
       st.data())
def test_csum_replace_equals_full_recompute(data, draw):
    # Correct checksum over data, then rewrite a random aligned run of words: the RFC 1624
    # incremental result equals the checksum recomputed from scratch (scapy's RFC 1071 sum).
    buf = bytearray(data)
    hc = scapy_checksum(bytes(buf))
    nwords = len(buf) // 2
    i = draw.draw(st.integers(0, nwords - 1))
    j = draw.draw(st.integers(i + 1, min(nwords, i + 8)))
    new = draw.draw(st.binary(min_size=2 * (j - i), max_size=2 * (j - i)))
    old_words = sem.words16(buf[2 * i:2 * j])
    buf[2 * i:2 * j] = new
    if not any(buf):
        return  # an all-zero message has checksum 0xffff, a representation corner
    assert sem.csum_replace(hc, old_words, sem.words16(new)) == scapy_checksum(bytes(buf))


def test_csum_replace_rfc1624_example():
    # RFC 1624 section 4 example: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285, HC' = 0x0000.
    assert sem.csum_replace(0xDD2F, [0x5555], [0x3285]) == 0x0000


def test_fold16_and_udp_zero_rule():
    assert sem.fold16(0x1FFFE) == 0xFFFF
    assert sem.fold16(0) == 0
    assert sem.udp_checksum_out(0) == 0xFFFF
    assert sem.udp_checksum_out(0x1234) == 0x1234
    rnd = random.Random(3)
    for _ in range(200):
        ws = [rnd.randrange(1 << 16) for _ in range(rnd.randrange(1, 20))]
        assert sem.fold16(sum(ws)) % 0xFFFF == sum(ws) % 0xFFFF
