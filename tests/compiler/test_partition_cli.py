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


def test_a_plan_with_now_on_a_clockless_nic_says_the_clock_is_host_fed(capsys):
    synguard = str(ROOT / "netfuncs" / "synguard.nf")
    rc, out, err = _run(capsys, synguard, "--nic", "agilio", "--rate", "10")
    assert rc == 0, err
    assert "now() on the NIC reads the host-fed clock, written by the host every 1 ms" in out
    rc, out, err = _run(capsys, synguard, "--nic", "agilio", "--rate", "10", "--json")
    assert json.loads(out)["host_clock_period_ns"] == 1_000_000
    # BlueField-2 has its own clock; flowcount calls no now()
    for nf, nic in ((synguard, "bluefield2"), (NF, "agilio")):
        rc, out, err = _run(capsys, nf, "--nic", nic, "--rate", "10", "--json")
        assert rc == 0 and json.loads(out)["host_clock_period_ns"] is None, (nf, nic)


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
    err = "".join(ln + "\n" for ln in err.splitlines() if not ln.startswith("cora: warning:"))
    assert rc == 1 and err.count("\n") == 1
    assert "no plan meets 200 Mpps within 0.1 host cores" in err
    assert "host core budget" in err and "packet rate" in err


def test_coverage_warning_names_blocks_and_ops(capsys):
    rc, out, err = _run(capsys, str(ROOT / "netfuncs" / "nat.nf"), "--nic", "bluefield2",
                        "--rate", "10", "--profile", PCAP, "--json")
    assert rc == 0
    doc = json.loads(out)
    cov = doc["profile_coverage"]
    assert cov["executed_blocks"] < cov["blocks"] / 2
    line = [ln for ln in err.splitlines() if ln.startswith("cora: warning:")]
    assert len(line) == 1
    assert f"executes {cov['executed_blocks']} of {cov['blocks']} blocks" in line[0]
    assert "% of ops" in line[0] and "--profile" in line[0]


def test_no_coverage_warning_without_a_capture(capsys):
    rc, out, err = _run(capsys, NF, "--nic", "bluefield2", "--rate", "10", "--json")
    assert rc == 0 and "warning" not in err and json.loads(out)["profile_coverage"] is None


def test_sweep_prints_every_planner_and_plots(capsys, tmp_path):
    png = tmp_path / "curve.png"
    rc, out, err = _run(capsys, NF, "--nic", "bluefield2", "--sweep", "1:160:40", "--plot",
                        str(png))
    assert rc == 0, err
    lines = out.splitlines()
    header = next(ln for ln in lines if ln.split()[:1] == ["Mpps"])
    for name in ("cora", "all_host", "greedy", "state_split", "traffic_split"):
        assert name in header
    rates = [float(ln.split()[0]) for ln in lines if ln.split() and
             ln.split()[0].replace(".", "").isdigit()]
    assert rates == [1, 40, 80, 120, 160]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rc, out, err = _run(capsys, NF, "--nic", "bluefield2", "--sweep", "1:160:40", "--json")
    rows = json.loads(out)["sweep"]
    assert [r["rate_mpps"] for r in rows] == [1, 40, 80, 120, 160]
    for r in rows:       # cora is never worse than a baseline at any rate
        for k in ("all_host", "greedy", "state_split", "traffic_split"):
            if r[k] is not None:
                assert r["cora"] is not None and r["cora"] <= r[k] + 1e-6


def test_user_nic_model(capsys, tmp_path):
    from cora.compiler.offload.stage_model import model_path
    mine = tmp_path / "mynic.toml"
    mine.write_text(model_path("bluefield2").read_text().replace('name = "bluefield2"',
                                                                  'name = "mynic"'))
    rc, out, err = _run(capsys, NF, "--nic-model", str(mine), "--rate", "10", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["nic"] == "mynic" and doc["plan"]["stage_models"]["nic"] == "mynic"


@pytest.mark.parametrize("content, words", [
    ("name = 'x'\n", "missing field"),
    ("not toml [", "not valid TOML"),
    (None, "cannot read"),
    ("xdp", "kind is 'host'"),
])
def test_bad_nic_model_is_one_line(capsys, tmp_path, content, words):
    from cora.compiler.offload.stage_model import model_path
    path = tmp_path / "nic.toml"
    if content == "xdp":
        path.write_text(model_path("xdp").read_text())
    elif content is not None:
        path.write_text(content)
    rc, out, err = _run(capsys, NF, "--nic-model", str(path), "--rate", "10")
    assert rc == 1 and not out
    assert err.startswith("cora: error: --nic-model") and err.count("\n") == 1 and words in err


@pytest.mark.parametrize("argv, words", [
    (["--nic", "agilio", "--sweep", "5:1"], "--sweep 5:1"),
    (["--nic", "agilio", "--sweep", "1-160"], "expected A:B"),
    (["--nic", "agilio", "--sweep", "1:160:0.001"], "more than"),
    (["--nic", "agilio", "--sweep", "1:160", "--rate", "3"], "--sweep replaces"),
    (["--nic", "agilio", "--rate", "3", "--plot", "x.png"], "--plot needs --sweep"),
    (["--nic", "agilio", "--nic-model", "x.toml", "--rate", "3"], "not allowed with"),
    (["--rate", "3"], "--nic"),
])
def test_sweep_and_model_usage_errors(capsys, argv, words):
    rc, out, err = _run(capsys, NF, *argv)
    assert rc == 2 and not out
    assert err.startswith("cora: error:") and err.count("\n") == 1 and words in err


def test_max_rate_mode_reports_rate_and_cores(capsys):
    rc, out, err = _run(capsys, NF, "--nic", "bluefield2", "--cores", "2", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["mode"] == "rate" and doc["rate_mpps"] > 0
    assert doc["host_cores"] is not None and doc["host_cores"] <= 2 + 1e-6
    # lexicographic: every baseline reaching the same rate needs at least as many cores
    for name, b in doc["baseline_details"].items():
        if b["rate_mpps"] is not None and abs(b["rate_mpps"] - doc["rate_mpps"]) < 1e-6:
            assert b["host_cores"] >= doc["host_cores"] - 1e-6, name
