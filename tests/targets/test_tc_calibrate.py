"""Calibration of the tc stage (``python -m cora.runtime.calibrate --target tc``): the same
micro-benchmarks run as sched_cls programs; the stored tc.toml loads with measured sources."""

import pytest

from cora.compiler.offload.stage_model import load_model
from cora.errors import CoraError
from cora.runtime import calibrate as cal


def test_stored_tc_model_is_measured_with_its_command():
    tc = load_model("tc")
    assert tc.name == "tc" and tc.kind == "host"
    for fig in ("per_packet_ns", "op_cost_ns.alu", "map_cost_ns.hash",
                "map_op_cost_ns.lru_hash.map_update"):
        assert tc.is_measured(fig), fig
        assert "calibrate --target tc --write" in tc.source_of(fig)
    assert not tc.is_measured("crossing_ns") and tc.max_shim_bytes == 0
    assert tc.map_cost_ns["hash"] > 5 * tc.op_cost_ns["alu"] > 0
    assert set(tc.op_classes) == set(load_model("xdp").op_classes)


@pytest.fixture(scope="module")
def quick_tc(bcc_module):
    return cal.calibrate(quick=True, target="tc")


@pytest.mark.kernel
@pytest.mark.slow
def test_quick_tc_calibration_measures_sched_cls_programs(quick_tc):
    c = quick_tc
    assert c.meta["target"] == "tc" and "--target tc" in c.meta["command"]
    assert c.empty_program_ns > 0 and c.intercept_ns > 0 and not c.shim_ns
    # measured, positive costs for what the fit needs (no timing ratio asserted: the bench's)
    assert c.costs_ns["hash.map_lookup"] > 0 and c.costs_ns["alu"] > 0
    assert all(r["measured_ns"] > 0 for r in c.rows) and c.r2 <= 1.0


@pytest.mark.kernel
@pytest.mark.slow
def test_write_tc_model_needs_a_full_tc_run(quick_tc, tmp_path):
    import shutil

    from cora.compiler.offload.stage_model import _models_dir

    shutil.copy(_models_dir() / "xdp.toml", tmp_path)
    with pytest.raises(CoraError, match="did not measure"):
        cal.write_tc_model(quick_tc, tmp_path)
    assert not (tmp_path / "tc.toml").exists()
    xdp_run = cal.Calibration({}, {}, 1.0, 1.0, {}, [], 1.0, {"target": "xdp"})
    with pytest.raises(CoraError, match="--target tc"):
        cal.write_tc_model(xdp_run, tmp_path)


def test_unknown_target_is_refused():
    with pytest.raises(CoraError, match="xdp or tc"):
        cal.calibrate(quick=True, target="agilio")
