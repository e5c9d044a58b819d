"""Calibration: the fit recovers known costs; a quick real run measures positive costs with a
map lookup dearer than an ALU op; writing stores measured sources and derived models."""

import shutil
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.ir.verify import verify
from cora.compiler.offload.stage_model import _models_dir, load_model
from cora.runtime import calibrate as cal

NETFUNCS = Path(__file__).resolve().parents[2] / "netfuncs"


def _row(program, variant, k, ns, **feats):
    return {"program": program, "variant": variant, "k": k, "measured_ns": ns,
            "features": feats}


def test_fit_recovers_known_costs_and_subtracts_companion_ops():
    alu, mul, lookup, base_ns = 0.25, 0.75, 22.0, 30.0
    rows = [_row(0, "base", 0, base_ns, branch=3, alu=2)]
    for k in (10, 20, 30):
        rows.append(_row(0, "alu", k, base_ns + k * alu, branch=3, alu=2 + k))
        # each multiply comes with one xor (an ALU op)
        rows.append(_row(0, "mul", k, base_ns + k * (mul + alu), branch=3, alu=2 + k, mul=k))
    rows.append(_row(1, "base", 0, 40.0, branch=3, alu=2))
    for k in (4, 8, 12):
        rows.append(_row(1, "hash.lookup", k, 40.0 + k * (lookup + 2 * alu), branch=3,
                         alu=2 + 2 * k, **{"hash.map_lookup": k}))
    costs, per_packet = cal.fit(rows)
    assert costs["alu"] == pytest.approx(alu)
    assert costs["mul"] == pytest.approx(mul)
    assert costs["hash.map_lookup"] == pytest.approx(lookup)
    assert per_packet == pytest.approx(base_ns - 2 * alu)  # branch unknown: stays in


def test_fit_refuses_a_pattern_that_misses_its_op():
    rows = [_row(0, "base", 0, 30.0), _row(0, "mul", 8, 40.0, alu=8)]
    with pytest.raises(cal.CoraError, match="does not execute mul"):
        cal.fit(rows)


def test_micro_benchmark_programs_verify_and_select_variants_by_port():
    program, variants = cal.build_program(cal.FULL_PLAN[0])
    verify(program)
    for v in variants[:4] + variants[-2:]:
        counts, n = cal.block_counts(program, [(0, cal.variant_frame(v.vid))])
        feats = cal.op_features(program, counts)
        assert n == 1
        target = cal.target_feature(v.name) if v.k else None
        if target:
            assert feats[target] >= v.k, (v, feats)


def test_block_counts_follow_the_traffic():
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import ARP, Ether

    p = compile_file(NETFUNCS / "flowcount.nf")
    tcp = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP() / TCP())
    arp = bytes(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP())
    counts, n = cal.block_counts(p, [(0, tcp), (1, tcp), (2, arp)])
    assert n == 3
    assert counts[p.blocks[0].label] == 3
    feats = cal.op_features(p, counts)
    # the first TCP frame looks its flow up and inserts it, the second finds it (one lookup);
    # the host build has no atomic-init lookup (only a NIC stage gets that pass)
    assert feats["hash.map_lookup"] == 2


@pytest.fixture(scope="module")
def quick_run():
    return cal.calibrate(quick=True)


@pytest.mark.kernel
@pytest.mark.slow
def test_quick_calibration_measures_positive_costs(quick_run):
    c = quick_run
    assert c.empty_program_ns > 0 and c.intercept_ns > 0
    assert all(r["measured_ns"] > 0 for r in c.rows)
    assert all(v > 0 for v in c.costs_ns.values())
    # every operation class the fit needs was measured (figures and their ratios are the
    # bench's: python -m cora.runtime.calibrate prints them; no timing ratio is asserted here)
    assert {"hash.map_lookup", "alu"} <= set(c.costs_ns)
    assert {r["variant"] for r in c.rows} >= {"base", "alu"}
    assert max(r["k"] for r in c.rows if r["variant"] == "alu") == 192
    assert c.r2 <= 1.0
    assert c.meta["kernel"] and c.meta["repeat"] == 2000


@pytest.mark.kernel
@pytest.mark.slow
def test_write_stores_measured_figures_and_derived_models(quick_run, tmp_path):
    for name in ("xdp", "user", "bluefield2"):
        shutil.copy(_models_dir() / f"{name}.toml", tmp_path)
    written = cal.write_models(quick_run, tmp_path)
    assert {p.name for p in written} == {"xdp.toml", "user.toml", "bluefield2.toml"}
    xdp = load_model(tmp_path / "xdp.toml")
    assert xdp.map_cost_ns["hash"] == pytest.approx(quick_run.costs_ns["hash.map_lookup"],
                                                    abs=1e-3)
    assert xdp.is_measured("map_cost_ns.hash") and xdp.is_measured("per_packet_ns")
    assert "calibrate --write" in xdp.source_of("op_cost_ns.alu")
    bf2 = load_model(tmp_path / "bluefield2.toml")
    scale = xdp.clock_ghz / cal.A72_CLOCK_GHZ * cal.A72_IPC_RATIO
    assert bf2.map_cost_ns["hash"] == pytest.approx(xdp.map_cost_ns["hash"] * scale, rel=1e-3)
    assert bf2.source_of("map_cost_ns.hash").startswith("modelled")
    user = load_model(tmp_path / "user.toml")
    assert user.op_cost_ns["alu"] == xdp.op_cost_ns["alu"]
    assert not user.is_measured("op_cost_ns.alu")


def test_command_line_rejects_bad_options(capsys):
    assert cal.main(["--write", "--quick"]) == 1
    assert "--write needs the full plan" in capsys.readouterr().err
    assert cal.main(["--repeat", "0"]) == 1
    assert "at least 1" in capsys.readouterr().err


def _fake_calibration() -> cal.Calibration:
    """A calibration with every figure the writers need, none of it measured (no kernel)."""
    costs = {c: 0.5 for c in ("move", "alu", "mul", "div", "hash", "parse", "pkt_read",
                              "pkt_write", "branch", "map_read", "map_write", "helper")}
    for kind in ("hash", "lru_hash", "array", "percpu_array", "lpm"):
        costs[f"{kind}.map_lookup"] = 10.0
        costs[f"{kind}.map_update"] = 20.0
        costs[f"{kind}.map_delete"] = 15.0
    costs.update(rand=3.0, hash_operand=1.0, key_byte=0.2)
    meta = {"date": "2026-12-01", "kernel": "test", "cpu": "test", "cpu_mhz": 2000.0,
            "variants": 1, "programs": 1, "repeat": 1, "calls": 1}
    return cal.Calibration(costs_ns=costs, raw_costs_ns=dict(costs), intercept_ns=30.0,
                           empty_program_ns=10.0, shim_ns={8: 5.0, 64: 6.0}, rows=[], r2=1.0,
                           meta=meta)


def test_write_keeps_the_atomic_add_figure_it_does_not_measure(tmp_path):
    """``--write`` (and ``--target tc --write``) re-measure the op classes, not atomic_add
    (bench/atomic_add.py measures it): the figure and its source stay in xdp.toml, the
    derived user/bluefield2 models scale it, and tc.toml takes the xdp figure."""
    for name in ("xdp", "user", "bluefield2", "tc"):
        shutil.copy(_models_dir() / f"{name}.toml", tmp_path)
    before = load_model(tmp_path / "xdp.toml")
    atomic_ns = before.opcode_cost_ns["atomic_add"]
    atomic_src = before.source_of("opcode_cost_ns.atomic_add")
    fake = _fake_calibration()
    cal.write_models(fake, tmp_path)
    xdp = load_model(tmp_path / "xdp.toml")
    assert xdp.opcode_cost_ns["atomic_add"] == atomic_ns
    assert xdp.source_of("opcode_cost_ns.atomic_add") == atomic_src
    assert xdp.opcode_cost_ns["rand"] == 3.0  # the measured one is replaced
    assert load_model(tmp_path / "user.toml").opcode_cost_ns["atomic_add"] == atomic_ns
    bf2 = load_model(tmp_path / "bluefield2.toml")
    scale = xdp.clock_ghz / cal.A72_CLOCK_GHZ * cal.A72_IPC_RATIO
    assert bf2.opcode_cost_ns["atomic_add"] == pytest.approx(atomic_ns * scale, abs=1e-3)
    fake.meta["target"] = "tc"
    cal.write_tc_model(fake, tmp_path)
    tc = load_model(tmp_path / "tc.toml")
    assert tc.opcode_cost_ns["atomic_add"] == atomic_ns
    assert tc.source_of("opcode_cost_ns.atomic_add").startswith("modelled: the xdp figure")
