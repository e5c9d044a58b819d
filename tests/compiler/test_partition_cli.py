"""``cora plan``: the JSON shape, the text output, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cora.cli import main
from cora.compiler.offload.partition import Plan
from cora.settings import traces_dir

ROOT = Path(__file__).resolve().parents[2]
NF = str(ROOT / "netfuncs" / "flowcount.nf")
PCAP = str(traces_dir() / "pim-packet-assortment.pcap")


def _run(capsys, *argv):
    rc = main(["plan", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_json_shape(capsys, tmp_path):
    out_file = tmp_path / "plan.json"
    rc, out, err = _run(capsys, NF, "--nic", "bluefield2", "--rate", "10", "--profile", PCAP,
                        "--json", "--out", str(out_file))
    assert rc == 0, err
    doc = json.loads(out)
    for key in ("plan", "host_cores", "nic_utilization", "baselines", "optimal", "gap",
                "solve_seconds"):
        assert key in doc
    assert set(doc["baselines"]) == {"all_host", "greedy", "state_split", "traffic_split"}
    assert all(isinstance(v, float) for v in doc["baselines"].values())
    assert isinstance(doc["optimal"], bool) and doc["optimal"]
    assert doc["gap"] == 0 and doc["solve_seconds"] >= 0
    assert 0 <= doc["nic_utilization"] <= 1 and doc["modelled"] is True
    assert all(doc["host_cores"] <= v + 1e-9 for v in doc["baselines"].values())
    plan = doc["plan"]
    assert set(plan) == {"blocks", "states", "shim", "stage_models", "traffic"}
    assert plan["stage_models"]["nic"] == "bluefield2"
    assert set(plan["states"]["flows"]) == {"stage", "tier", "read_only", "replicated",
                                            "replicas"}
    assert plan["states"]["flows"]["read_only"] is False
    assert json.loads(out_file.read_text()) == doc
    # the written plan is a valid warm start
    Plan.from_json(doc["plan"])
    rc, out2, err = _run(capsys, NF, "--nic", "bluefield2", "--rate", "10", "--profile",
                         PCAP, "--json", "--warm-start", str(out_file))
    assert rc == 0 and json.loads(out2)["host_cores"] == doc["host_cores"]


def test_text_output_says_modelled(capsys):
    rc, out, err = _run(capsys, NF, "--nic", "agilio", "--rate", "5", "--profile", PCAP)
    assert rc == 0, err
    assert "MODELLED" in out and "no NIC hardware" in out
    for word in ("all_host", "greedy", "state_split", "traffic_split", "exhaustive",
                 "gap", "flows"):
        assert word in out


@pytest.mark.parametrize("argv, words", [
    (["--nic", "agilio"], "--rate"),
    (["--nic", "agilio", "--rate", "-3"], "--rate: expected a finite number at least 1e-06 Mpps"),
    (["--nic", "agilio", "--rate", "0"], "--rate: expected a finite number at least 1e-06 Mpps"),
    (["--nic", "agilio", "--rate", "inf"], "--rate: expected a finite number at least 1e-06 Mpps"),
    (["--nic", "agilio", "--rate", "1e-300"], "--rate: expected a finite number at least 1e-06"),
    (["--nic", "agilio", "--rate", "5", "--workers", "0"], "--workers"),
    (["--nic", "agilio", "--cores", "1e9"], "--cores"),
])
def test_usage_errors_are_one_line_exit_2(capsys, argv, words):
    rc, out, err = _run(capsys, NF, *argv)
    assert rc == 2 and not out
    assert err.startswith("cora: error:") and err.count("\n") == 1 and words in err


def test_more_cores_than_any_host_is_infeasible(capsys):
    """A modelled optimum of billions of cores is no plan: flagged, with the cap."""
    from cora.plan_command import MAX_HOST_CORES
    rc, out, err = _run(capsys, NF, "--nic", "agilio", "--rate", "1e12")
    assert rc == 1 and err.count("\n") == 1 and f"{MAX_HOST_CORES:,} cores" in err
    rc, out, err = _run(capsys, NF, "--nic", "agilio", "--rate", "1e12", "--json")
    doc = json.loads(out, parse_constant=lambda c: pytest.fail(c))
    assert rc == 1 and doc["plan"] is None and doc["real_host_feasible"] is False
    assert doc["host_cores"] > MAX_HOST_CORES and "any real host" in doc["infeasible"]


@pytest.mark.parametrize("argv, words", [
    (["--nic", "agilio", "--rate", "5", "--warm-start", "/nonexistent.json"], "warm-start"),
    (["--nic", "agilio", "--rate", "5", "--profile", "/nonexistent.pcap"], "pcap"),
])
def test_errors_are_one_line(capsys, argv, words):
    rc, out, err = _run(capsys, NF, *argv)
    assert rc == 1
    assert err.startswith("cora: error:") and err.count("\n") == 1 and words in err
    assert "Traceback" not in err


def test_infeasible_target_in_words(capsys):
    rc, out, err = _run(capsys, NF, "--nic", "bluefield2", "--rate", "200", "--cores", "0.1",
                        "--profile", PCAP)
    assert rc == 1 and err.count("\n") == 1
    assert "no plan meets 200 Mpps within 0.1 host cores" in err
    assert "host core budget" in err and "packet rate" in err
