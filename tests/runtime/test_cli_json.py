"""Issue 8 part 5: every command that has ``--json`` prints strict JSON (RFC 8259: no NaN,
no Infinity), parsed here with a parser that refuses those constants. The kernel commands
(run in the kernel, bench, stats, demo) run for real: they need root."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .cli_leaves import LEAVES, options_of

REPO = Path(__file__).resolve().parents[2]
FLOWCOUNT = REPO / "netfuncs" / "flowcount.nf"


def _refuse(constant: str):
    raise AssertionError(f"{constant} is not JSON")


def strict_documents(text: str) -> list:
    """Every JSON document of the output: the whole of it, or one per line."""
    text = text.strip()
    assert text, "no output"
    try:
        return [json.loads(text, parse_constant=_refuse)]
    except json.JSONDecodeError:
        return [json.loads(line, parse_constant=_refuse) for line in text.splitlines()]


def cora_json(*argv, timeout=600) -> list:
    r = subprocess.run([sys.executable, "-m", "cora.cli", *map(str, argv), "--json"],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return strict_documents(r.stdout)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import dpkt
    import numpy as np

    from cora.certify.nn import init_mlp
    from cora.testbed.trafficgen import synthetic_flows

    d = tmp_path_factory.mktemp("json")
    with open(d / "flows.pcap", "wb") as fh:
        w = dpkt.pcap.Writer(fh)
        for i, frame in enumerate(synthetic_flows(8, 64, "udp", seed=1) * 4):
            w.writepkt(frame, ts=1.0 + i * 1e-3)
    init_mlp(6, (8, 8), 1, np.random.default_rng(0), out_scale=0.5).save(str(d / "p.npz"))
    np.save(d / "lo.npy", np.zeros(6))
    np.save(d / "hi.npy", np.full(6, 0.5))
    return d


def test_every_command_with_json_is_covered_here():
    """The list of commands with --json: when one is added, this test must grow."""
    have = sorted(" ".join(p) for p, parser in LEAVES.items()
                  if any("--json" in a.option_strings for a in options_of(parser)))
    # deploy --json (deploy --replace's swap report) is parsed strictly in test_swap.py;
    # runtime status/history/replan/stop --json (the daemon's reply) in test_daemon.py;
    # group --json (and deploy --group --json) in tests/targets/test_multicast_kernel.py
    assert have == ["bench", "certify bounds", "certify check", "certify eval", "demo",
                    "deploy", "group", "plan", "run", "runtime history", "runtime replan",
                    "runtime status", "runtime stop", "stats"]


def test_run_interp_plan_and_certify(files):
    (rep,) = cora_json("run", FLOWCOUNT, "--pcap", files / "flows.pcap", "--engine", "interp")
    assert rep["packets"] == 32 and rep["mismatches"] == 0
    (doc,) = cora_json("plan", FLOWCOUNT, "--nic", "agilio", "--rate", "5")
    assert doc["real_host_feasible"] is True and doc["modelled"] is True
    (b,) = cora_json("certify", "bounds", files / "p.npz", "--lower", files / "lo.npy",
                     "--upper", files / "hi.npy")
    assert b["lower"][0] <= b["upper"][0]
    rows = cora_json("certify", "check", files / "p.npz", "--property", "all",
                     "--max-boxes", "16")
    assert rows and all(r["counterexample_violation"] <= r["worst_violation"] + 1e-9
                        for r in rows)
    rows = cora_json("certify", "eval", files / "p.npz", "--envs", "4", "--steps", "10")
    assert rows[0]["controller"] == "policy"


def test_plan_beyond_any_host_is_still_strict_json(files):
    r = subprocess.run([sys.executable, "-m", "cora.cli", "plan", str(FLOWCOUNT), "--nic",
                        "agilio", "--rate", "1e12", "--json"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 1
    (doc,) = strict_documents(r.stdout)
    assert doc["real_host_feasible"] is False and doc["plan"] is None


@pytest.mark.kernel
def test_run_kernel_and_bench(files):
    (rep,) = cora_json("run", FLOWCOUNT, "--pcap", files / "flows.pcap", "--engine", "both")
    assert rep["mismatches"] == 0 and rep["ns_per_packet"] > 0
    (bench,) = cora_json("bench", FLOWCOUNT, "--pcap", files / "flows.pcap", "--repeat", "100",
                         "--samples", "4")
    assert bench["ns_per_packet"] > 0 and bench["sampled"] == 4


@pytest.mark.kernel
@pytest.mark.netns
def test_stats(files):
    from cora.testbed.topology import two_node

    with two_node() as topo:
        ns = topo.ns("dut")
        r = subprocess.run([sys.executable, "-m", "cora.cli", "deploy", str(FLOWCOUNT), "--dev",
                            "veth0", "--netns", ns], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        try:
            (st,) = cora_json("stats", "--dev", "veth0", "--netns", ns, "--interval", "0.2")
            assert st["attached"] and set(st["rate_mpps"]) >= {"pass", "total"}
        finally:
            subprocess.run([sys.executable, "-m", "cora.cli", "undeploy", "--dev", "veth0",
                            "--netns", ns], capture_output=True, timeout=600, check=True)


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.slow
def test_demo(files):
    traces = files / "traces"
    traces.mkdir(exist_ok=True)
    (traces / "flows.pcap").write_bytes((files / "flows.pcap").read_bytes())
    (doc,) = cora_json("demo", "--seconds", "1", "--traces", traces, timeout=900)
    assert doc["differential"]["mismatches"] == 0 and doc["differential"]["packets"] == 32
    assert doc["live"]["sent"] > 0 and doc["source"] == "measured on this machine"
