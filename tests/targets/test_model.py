"""Stage models: every shipped model loads, is complete, cites a source for every figure, and
predicts ns/packet as docs/offload.md's formula says (additive, monotone, tier-aware)."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cora.compiler.driver import compile_file, compile_source
from cora.compiler.ir import OP_CLASS, Op
from cora.compiler.offload.stage_model import (
    ALL_OP_CLASSES,
    MAP_OP_CLASSES,
    ModelError,
    available_models,
    charged_ops,
    host_cores,
    load_model,
    model_path,
    nic_utilization,
    predict_ns_per_packet,
    state_mem_bytes,
)

NETFUNCS = Path(__file__).resolve().parents[2] / "netfuncs"
MODELS = ("xdp", "user", "agilio", "bluefield2")


@pytest.fixture(scope="module")
def flowcount():
    return compile_file(NETFUNCS / "flowcount.nf")


@pytest.fixture(scope="module")
def firewall():
    return compile_file(NETFUNCS / "firewall.nf")


def test_the_four_models_ship():
    assert set(MODELS) <= set(available_models())


@pytest.mark.parametrize("name", MODELS)
def test_model_is_complete_with_a_source_for_every_figure(name):
    m = load_model(name)
    assert m.kind == ("nic" if name in ("agilio", "bluefield2") else "host")
    assert m.cores >= 1 and m.clock_ghz > 0 and m.per_packet_ns > 0
    assert set(m.op_classes) <= set(ALL_OP_CLASSES)
    assert all(c in m.op_cost_ns for c in m.op_classes)
    assert all(k in m.map_cost_ns for k in m.map_kinds)
    assert [t.mem_bytes > 0 for t in m.tiers] and m.tiers
    figures = m.figures()
    assert len(figures) > 20
    for fig in figures:
        assert m.source_of(fig).strip(), fig


def test_host_kernel_costs_are_measured_and_nic_costs_are_not():
    xdp = load_model("xdp")
    for fig in ("per_packet_ns", "op_cost_ns.alu", "map_cost_ns.hash", "map_cost_ns.lru_hash"):
        assert xdp.is_measured(fig), fig
        assert "calibrate" in xdp.source_of(fig)
    assert xdp.map_cost_ns["hash"] > xdp.op_cost_ns["alu"]
    for name in ("agilio", "bluefield2", "user"):
        m = load_model(name)
        for fig in ("per_packet_ns", "op_cost_ns.alu", "map_cost_ns.hash"):
            assert not m.is_measured(fig), (name, fig)


def test_agilio_declares_the_offload_limits():
    m = load_model("agilio")
    # hash and array maps; a percpu_array only as atomic counters (nfp driver: no per-CPU maps)
    assert set(m.map_kinds) == {"hash", "array", "percpu_array"}
    assert m.atomic_counter_kinds == ("percpu_array",)
    assert "redirect" not in m.verdicts
    assert m.max_instructions == 2800
    # map_write is allowed for atomic_add only: plain stores (ref.store) are excluded
    assert "map_write" in m.op_classes and "ref.store" in m.excluded_opcodes
    # no clock helper: now() reads the host-fed clock map (written every 1 ms)
    assert "now" not in m.excluded_opcodes and m.host_clock_period_ns == 1_000_000
    assert [t.name for t in m.tiers] == ["CLS", "CTM", "IMEM", "EMEM"]
    assert [t.access_ns for t in m.tiers] == sorted(t.access_ns for t in m.tiers)
    assert load_model("bluefield2").cores == 8


def test_unknown_model_names_the_available_ones():
    with pytest.raises(ModelError, match="available: .*agilio"):
        load_model("tofino")


def _edited_agilio(tmp_path, old: str, new: str):
    """A copy of the agilio model file with ``old`` (present) replaced by ``new``."""
    text = model_path("agilio").read_text()
    assert old in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(old, new))
    return bad


def test_a_figure_without_source_is_refused(tmp_path):
    bad = _edited_agilio(tmp_path, '\nclock_ghz = "', '\nclock_ghzz = "')
    with pytest.raises(ModelError, match="clock_ghz has no entry in \\[sources\\]"):
        load_model(bad)


def test_an_allowed_op_class_without_cost_is_refused(tmp_path):
    bad = _edited_agilio(tmp_path, "\nmul = 23.75\n", "\n")
    with pytest.raises(ModelError, match="no op_cost_ns for allowed op classes \\['mul'\\]"):
        load_model(bad)


def test_malformed_toml_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    with pytest.raises(ModelError, match="not valid TOML"):
        load_model(bad)


def test_prediction_with_no_traffic_is_the_per_packet_cost(flowcount):
    m = load_model("xdp")
    assert predict_ns_per_packet(flowcount, m, {}) == m.per_packet_ns


def test_prediction_is_per_packet_plus_frequency_weighted_block_costs(flowcount):
    m = load_model("xdp")
    freq = {b.label: 0.5 for b in flowcount.blocks}

    def cost(op, charge):
        if "state" not in op.attrs or op.op_class not in MAP_OP_CLASSES:
            return m.op_ns(op, charge=charge)
        st = flowcount.state(op.attrs["state"])
        return m.op_ns(op, st.kind, key_bytes=st.key_bytes)
    expected = m.per_packet_ns + sum(0.5 * sum(cost(op, c) for op, c in charged_ops(b) if c)
                                     for b in flowcount.blocks)
    assert predict_ns_per_packet(flowcount, m, freq) == pytest.approx(expected)


def test_repeated_pure_ops_and_constant_divisions_are_charged_as_clang_runs_them():
    p = compile_file(NETFUNCS / "heavyhitter.nf")
    block = next(b for b in p.blocks if sum(op.opcode == "hash" for op in b.ops) == 8)
    charged = [(op.opcode, c) for op, c in charged_ops(block)]
    hashes = [c for o, c in charged if o == "hash"]
    assert hashes.count("hash") == 4 and hashes.count(None) == 4  # add and estimate share
    assert {c for o, c in charged if o == "mod"} <= {"alu", None}  # % 2048 is a mask


def test_key_bytes_change_hash_map_call_costs(flowcount):
    m = load_model("xdp")
    lookup = next(op for _, op in flowcount.ops() if op.opcode == "map.lookup")
    k8 = m.op_ns(lookup, "hash", key_bytes=8)
    assert k8 == pytest.approx(m.op_ns(lookup, "hash"))
    assert m.op_ns(lookup, "hash", key_bytes=16) == pytest.approx(
        k8 + 8 * m.map_key_byte_ns["hash"])
    assert m.map_key_byte_ns["hash"] > 0


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(st.data())
def test_prediction_is_additive_and_monotone(firewall, data):
    m = load_model("xdp")
    labels = [b.label for b in firewall.blocks]
    f1 = {lab: data.draw(st.floats(0, 1)) for lab in labels}
    f2 = {lab: data.draw(st.floats(0, 1)) for lab in labels}
    both = {lab: f1[lab] + f2[lab] for lab in labels}
    p1, p2, p12 = (predict_ns_per_packet(firewall, m, f) - m.per_packet_ns
                   for f in (f1, f2, both))
    assert p12 == pytest.approx(p1 + p2, rel=1e-9, abs=1e-9)
    assert p12 >= max(p1, p2) - 1e-9
    # splitting the blocks over two stages splits the cost (each stage adds its own floor)
    cut = data.draw(st.integers(0, len(labels)))
    a, b = labels[:cut], labels[cut:]
    pa = predict_ns_per_packet(firewall, m, f1, blocks=a) - m.per_packet_ns
    pb = predict_ns_per_packet(firewall, m, f1, blocks=b) - m.per_packet_ns
    assert pa + pb == pytest.approx(p1, rel=1e-9, abs=1e-9)


def test_adding_an_op_adds_exactly_its_cost(flowcount):
    m = load_model("xdp")
    freq = {b.label: 1.0 for b in flowcount.blocks}
    before = predict_ns_per_packet(flowcount, m, freq)
    block = flowcount.blocks[-1]
    reg = next(r for r, t in flowcount.regs.items() if getattr(t, "width", 0) == 64)
    block.ops.insert(0, Op("mul", reg, (reg, reg)))
    try:
        after = predict_ns_per_packet(flowcount, m, freq)
    finally:
        block.ops.pop(0)
    assert after - before == pytest.approx(m.op_cost_ns["mul"])


def test_map_costs_use_the_kind_the_pair_and_the_tier(flowcount):
    xdp = load_model("xdp")
    lookup = next(op for _, op in flowcount.ops() if op.opcode == "map.lookup")
    update = next(op for _, op in flowcount.ops() if op.opcode == "map.update")
    assert xdp.op_ns(lookup, "hash") == pytest.approx(
        xdp.op_cost_ns["map_lookup"] + xdp.map_cost_ns["hash"])
    assert xdp.op_ns(update, "hash") == pytest.approx(xdp.map_op_cost_ns["hash.map_update"])
    assert xdp.op_ns(update, "hash", key_bytes=16) > xdp.op_ns(update, "hash")
    assert xdp.op_ns(update, "lru_hash") > xdp.op_ns(lookup, "lru_hash")
    nic = load_model("agilio")
    slow, fast = nic.op_ns(lookup, "hash", "EMEM"), nic.op_ns(lookup, "hash", "CLS")
    assert slow - fast == pytest.approx(nic.tier("EMEM").access_ns - nic.tier("CLS").access_ns)
    with pytest.raises(ModelError, match="no memory tier 'L9'"):
        nic.op_ns(lookup, "hash", "L9")
    with pytest.raises(ModelError, match="cannot hold a lru_hash state"):
        nic.op_ns(lookup, "lru_hash")


def test_default_tier_is_the_fastest_that_holds_the_state(flowcount):
    nic = load_model("agilio")
    flows = flowcount.state("flows")
    assert state_mem_bytes(flows) == 65536 * 32
    assert nic.default_tier(flows).name == "IMEM"  # 2 MiB: too big for CTM, fits IMEM
    resized = lambda n: type(flows)(**{**flows.__dict__, "capacity": n})  # noqa: E731
    assert nic.default_tier(resized(1000)).name == "CLS"
    assert nic.default_tier(resized(4000)).name == "CTM"
    assert nic.default_tier(resized(1_000_000)).name == "EMEM"


def test_agilio_cannot_cost_what_it_cannot_run(firewall):
    with pytest.raises(ModelError, match="cannot hold a lru_hash state"):
        predict_ns_per_packet(firewall, load_model("agilio"),
                              {b.label: 1 for b in firewall.blocks})


def test_supports_op_follows_classes_opcodes_kinds_and_verdicts(firewall):
    nic = load_model("agilio")
    now = next(op for _, op in firewall.ops() if op.opcode == "now")
    store = Op("ref.store", None, ("h", "v"), {"state": "conns", "index": 0})
    assert not nic.supports_op(store)                 # an opcode excluded from its class
    assert nic.supports_op(now)                       # the host-fed clock
    assert load_model("bluefield2").supports_op(now) and load_model("bluefield2").supports_op(
        store)
    assert not nic.supports_op(Op("ret", attrs={"verdict": "redirect"}, args=("x",)))
    lookup = next(op for _, op in firewall.ops()
                  if op.opcode == "map.lookup" and op.attrs["state"] == "conns")
    assert not nic.supports_op(lookup, firewall)  # conns is an lru_hash
    assert {OP_CLASS[o] for o in ("add", "xor")} == {"alu"}


def test_cores_and_utilisation_formulas():
    assert host_cores(10, 100) == pytest.approx(1.0)
    nic = load_model("agilio")
    assert nic_utilization(30, 1600, nic) == pytest.approx(30e6 * 1600 / (1e9 * nic.cores))


def test_agilio_multiplies_on_an_assumed_lowering_and_divides_only_by_constants():
    nic, bf2 = load_model("agilio"), load_model("bluefield2")
    ratelimit = compile_file(NETFUNCS / "ratelimit.nf")
    wide_mul = next(op for _, op in ratelimit.ops() if op.opcode == "mul")
    # the nfp JIT multiplies u32 operands only; the model assumes a 64-bit product built from
    # three u32 multiplies (agilio.toml, op_cost_ns.mul) and says so in the figure's source
    assert nic.supports_op(wide_mul, ratelimit) and bf2.supports_op(wide_mul, ratelimit)
    assert "ASSUMES" in nic.source_of("op_cost_ns.mul")
    hh = compile_file(NETFUNCS / "heavyhitter.nf")
    mod_const = next(op for _, op in hh.ops() if op.opcode == "mod")  # u32 % 2048
    assert nic.supports_op(mod_const, hh)
    p = compile_source("on packet { if (!ipv4.valid) { pass; }\n"
                       "  if (ipv4.saddr % (ipv4.daddr | 1) == 0) { drop; } pass; }\n", "v.nf")
    var_mod = next(op for _, op in p.ops() if op.opcode == "mod")
    assert not nic.supports_op(var_mod, p) and bf2.supports_op(var_mod, p)
