"""The CLI contract of issue 2 section 6, run as a user would (subprocess), with real files."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from cora.settings import traces_dir

from .cli_run import cora, one_line_error

REPO = Path(__file__).resolve().parents[2]
TRACES = traces_dir()
FLOWCOUNT = REPO / "netfuncs" / "flowcount.nf"
TRACE = TRACES / "bgp-4byte-asn.pcap"




@pytest.mark.slow
def test_check_ok_and_errors(tmp_path):
    assert cora("check", FLOWCOUNT).returncode == 0
    bad = tmp_path / "bad.nf"
    bad.write_text("on packet {\n    if (ipv4.sadr == 1) { drop; }\n    let x: u8 = 300;\n}\n")
    r = cora("check", bad)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{bad}:2:" in r.stderr and f"{bad}:3:" in r.stderr
    assert "^" in r.stderr
    assert "cora: error:" in one_line_error(cora("check", tmp_path / "missing.nf"))


@pytest.mark.slow
def test_compile_writes_c_ir_and_layout(tmp_path):
    out = tmp_path / "out"
    cora("compile", FLOWCOUNT, "--target", "xdp", "-o", out, check=True)
    c = (out / "prog.c").read_text()
    assert "BPF_F_TABLE(\"hash\"" in c and "flows" in c and "int cora_xdp(struct xdp_md *ctx)" in c
    ir = (out / "prog.ir").read_text()
    assert ir.startswith("nf flowcount") and "map.lookup flows(" in ir
    maps = json.loads((out / "maps.json").read_text())["maps"]
    assert [m["name"] for m in maps] == ["flows"] and maps[0]["capacity"] == 65536
    r = cora("compile", FLOWCOUNT, "--target", "nope", "-o", out)  # a usage error: exit 2
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "invalid choice: 'nope'" in r.stderr and "'xdp'" in r.stderr


@pytest.mark.kernel
def test_run_json_contract_and_state_matches_the_hand_written_reference(tmp_path):
    from cora.testbed import ref_flowcount  # the hand-written XDP flowcount

    state, outp = tmp_path / "s.json", tmp_path / "o.pcap"
    r = cora("run", FLOWCOUNT, "--pcap", TRACE, "--engine", "both", "--json",
             "--state-out", state, "--out", outp, check=True)
    rep = json.loads(r.stdout)
    assert set(rep) == {"packets", "skipped", "verdicts", "mismatches", "ns_per_packet"}
    assert set(rep["verdicts"]) == {"pass", "drop", "tx", "redirect", "multicast", "aborted"}
    assert rep["mismatches"] == 0 and rep["verdicts"]["pass"] == rep["packets"] > 0
    got = {tuple(e["key"]): tuple(e["value"])
           for e in json.loads(state.read_text())["maps"]["flows"]}
    from cora.testbed.replay import read_pcap
    frames = [f for _, f in read_pcap(TRACE)]
    want = {tuple(k): tuple(v) for k, v in ref_flowcount.reference_flows(frames).items()}
    assert got == want and got
    # every frame passes, so --out holds all of them unchanged
    assert [f for _, f in read_pcap(outp)] == [f for f in frames if len(f) >= 14]


@pytest.mark.kernel
def test_run_each_engine_alone_and_skipped_count(tmp_path):
    import dpkt
    pcap = tmp_path / "short.pcap"
    with open(pcap, "wb") as fh:
        w = dpkt.pcap.Writer(fh)
        w.writepkt(b"\x00" * 10, ts=1.0)           # shorter than Ethernet: skipped
        w.writepkt(bytes(range(60)), ts=2.0)
    for engine in ("kernel", "interp"):
        rep = json.loads(cora("run", FLOWCOUNT, "--pcap", pcap, "--engine", engine, "--json",
                              check=True).stdout)
        assert rep["packets"] == 1 and rep["skipped"] == 1 and rep["mismatches"] == 0


@pytest.mark.slow
def test_run_bad_inputs_one_line(tmp_path):
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture")
    assert "pcap" in one_line_error(cora("run", FLOWCOUNT, "--pcap", junk, "--engine", "interp"))
    one_line_error(cora("run", FLOWCOUNT, "--pcap", tmp_path / "nope.pcap", "--engine", "interp"))
    bad = tmp_path / "bad.nf"
    bad.write_text("on packet { drop }\n")
    r = cora("run", bad, "--pcap", TRACE, "--engine", "interp")
    assert r.returncode == 1 and f"{bad}:1:" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.kernel
def test_bench_json():
    rep = json.loads(cora("bench", FLOWCOUNT, "--pcap", TRACE, "--repeat", "200",
                          "--samples", "5", "--json", check=True).stdout)
    assert rep["ns_per_packet"] > 0 and rep["sampled"] == 5 and rep["repeat"] == 200


@pytest.mark.kernel
@pytest.mark.netns
def test_deploy_stats_undeploy_in_a_namespace():
    from cora.testbed.topology import two_node
    from cora.testbed.trafficgen import TrafficGen, synthetic_flows

    with two_node() as topo:
        ns = topo.ns("dut")
        cora("deploy", FLOWCOUNT, "--dev", "veth0", "--netns", ns, check=True)
        try:
            again = one_line_error(cora("deploy", FLOWCOUNT, "--dev", "veth0", "--netns", ns))
            assert "undeploy" in again
            frames = synthetic_flows(16, 64, "udp", seed=3)
            with TrafficGen("veth0", topo.ns("gen")) as gen:
                gen.send(frames, count=1600)
            st = json.loads(cora("stats", "--dev", "veth0", "--netns", ns, "--json",
                                 check=True).stdout)
            assert st["attached"] and st["verdicts"]["pass"] == 1600
            flows = st["maps"]["flows"]
            assert len(flows) == 16 and sum(e["value"][0] for e in flows) == 1600
            assert all(e["value"][1] == 100 * 64 for e in flows)
        finally:
            r = cora("undeploy", "--dev", "veth0", "--netns", ns, check=True)
        assert "detached" in r.stdout
        assert not list(Path("/sys/fs/bpf/cora").glob(f"{ns}*"))
        assert "nothing is deployed" in one_line_error(cora("undeploy", "--dev", "veth0",
                                                            "--netns", ns))
    one_line_error(cora("deploy", FLOWCOUNT, "--dev", "nosuch0", "--netns",
                        f"cora-none-{uuid.uuid4().hex[:6]}"))


@pytest.mark.slow
def test_compile_no_stats_leaves_the_verdict_counters_out(tmp_path):
    cora("compile", FLOWCOUNT, "-o", tmp_path / "with", check=True)
    cora("compile", FLOWCOUNT, "-o", tmp_path / "without", "--no-stats", check=True)
    assert "cora_verdicts" in (tmp_path / "with" / "prog.c").read_text()
    assert "cora_verdicts" not in (tmp_path / "without" / "prog.c").read_text()


@pytest.mark.kernel
def test_bench_no_stats_json():
    rep = json.loads(cora("bench", FLOWCOUNT, "--pcap", TRACE, "--repeat", "200",
                          "--samples", "5", "--no-stats", "--json", check=True).stdout)
    assert rep["ns_per_packet"] > 0 and rep["stats"] is False


@pytest.mark.kernel
@pytest.mark.netns
def test_deploy_no_stats_then_stats_shows_maps_only():
    from cora.testbed.topology import two_node
    from cora.testbed.trafficgen import TrafficGen, synthetic_flows

    with two_node() as topo:
        ns = topo.ns("dut")
        cora("deploy", FLOWCOUNT, "--dev", "veth0", "--netns", ns, "--no-stats", check=True)
        try:
            with TrafficGen("veth0", topo.ns("gen")) as gen:
                gen.send(synthetic_flows(4, 64, "udp", seed=5), count=400)
            st = json.loads(cora("stats", "--dev", "veth0", "--netns", ns, "--json",
                                 check=True).stdout)
            assert st["attached"] and st["verdicts"] is None
            assert sum(e["value"][0] for e in st["maps"]["flows"]) == 400
            text = cora("stats", "--dev", "veth0", "--netns", ns, check=True).stdout
            assert "not counted" in text
        finally:
            cora("undeploy", "--dev", "veth0", "--netns", ns, check=True)


@pytest.mark.kernel
@pytest.mark.netns
def test_demo_runs_and_cleans_up():
    r = cora("demo", "--seconds", "1", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "mismatches between kernel and interpreter: 0" in r.stdout
    assert "Mpps through the NF" in r.stdout
    # the demo names its own namespaces (cora-<pid>-<hex>-gen/dut); they are gone after it
    import re
    mine = re.findall(r"cora-\d+-[0-9a-f]+-(?:gen|dut)", r.stdout)
    assert mine, r.stdout
    left = set(os.listdir("/var/run/netns")) if os.path.isdir("/var/run/netns") else set()
    assert not set(mine) & left
    assert "undeployed" in r.stdout
