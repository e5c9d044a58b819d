"""`cora compile --plan` and `cora deploy --plan` / `cora undeploy` as a user runs them
(subprocess), the deployment on a real gen -> nic -> host namespace testbed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.ir.text import parse_program
from cora.compiler.ir.verify import verify
from cora.compiler.offload.split import SplitError, cut_plan, split

from .cli_run import cora, one_line_error

REPO = Path(__file__).resolve().parents[2]
LB = REPO / "netfuncs" / "lb.nf"




def lb_cut_plan() -> dict:
    """A nic | kernel cut of lb that splits (parse and service lookup on the NIC)."""
    program = compile_file(str(LB))
    for i in range(2, len(program.topological_blocks())):
        plan = cut_plan(program, i)
        try:
            if len(split(program, plan).stages) == 2:
                return {"plan": plan}
        except SplitError:
            continue
    raise AssertionError("no nic|kernel cut of lb")


@pytest.mark.slow
def test_compile_plan_writes_every_stage_and_the_shim(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(lb_cut_plan()))
    out = tmp_path / "out"
    r = cora("compile", LB, "--plan", plan, "-o", out, check=True)
    assert "nic" in r.stdout and "kernel" in r.stdout
    for name in ("nic.c", "kernel.c", "nic.ir", "kernel.ir", "nic.maps.json",
                 "kernel.maps.json", "shim.json"):
        assert (out / name).is_file(), name
    shim = json.loads((out / "shim.json").read_text())
    assert shim["done_resume_id"] == 65535 and shim["shims"]
    kernel = parse_program((out / "kernel.ir").read_text())
    verify(kernel)
    pop = kernel.blocks[0].ops[0]
    assert pop.opcode == "shim.pop" and pop.attrs["final"]
    assert sorted(pop.attrs["resume"]) == sorted(s["resume_id"] for s in shim["shims"])
    for s in shim["shims"]:
        assert s["bytes"] == 2 + sum(r["bytes"] for r in s["registers"])
    assert "bpf_xdp_adjust_head(ctx, -" in (out / "nic.c").read_text()
    assert "shim_rid" in (out / "kernel.c").read_text()


@pytest.mark.slow
def test_compile_plan_bad_inputs(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "not JSON" in one_line_error(cora("compile", LB, "--plan", bad, "-o", tmp_path))
    other = tmp_path / "other.json"
    other.write_text(json.dumps(cut_plan(compile_file(str(REPO / "netfuncs" /
                                                          "flowcount.nf")), 2)))
    assert "no stage for block" in one_line_error(cora("compile", LB, "--plan", other, "-o",
                                                       tmp_path))
    assert "cannot read plan" in one_line_error(cora("compile", LB, "--plan",
                                                     tmp_path / "none.json", "-o", tmp_path))


def _lb_frames(n: int) -> list[bytes]:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether

    out = []
    for i in range(n):
        l4 = TCP(sport=20000 + i, dport=80, flags="S") if i % 2 == 0 else \
            UDP(sport=20000 + i, dport=53)
        out.append(bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                         / IP(src=f"192.0.2.{i % 200 + 1}", dst="10.11.0.100") / l4)
                   .ljust(64, b"\0"))
    return out


@pytest.mark.kernel
@pytest.mark.netns
def test_deploy_plan_on_the_three_namespace_testbed(tmp_path, bcc_module):
    from cora.compiler.interp import Interpreter
    from cora.testbed.offload_experiment import three_node
    from cora.testbed.topology import Topology
    from cora.testbed.trafficgen import TrafficGen

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(lb_cut_plan()))
    frames = _lb_frames(40)
    with Topology() as topo:
        three_node(topo)
        nic, host = topo.ns("nic"), topo.ns("host")
        undeployed = None
        try:
            r = cora("deploy", LB, "--plan", plan, "--dev", "veth1", "--netns", host,
                     "--nic-dev", "veth0", "--nic-netns", nic, check=True)
            assert "nic -> kernel" in r.stdout
            again = one_line_error(cora("deploy", LB, "--plan", plan, "--dev", "veth1",
                                        "--netns", host, "--nic-dev", "veth0",
                                        "--nic-netns", nic))
            assert "undeploy" in again
            with TrafficGen("veth0", topo.ns("gen")) as gen:
                gen.send(frames, count=400)
            import time

            # poll the counters (with a deadline) until every frame is counted by both stages
            deadline = time.monotonic() + 10.0
            while True:
                hs = json.loads(cora("stats", "--dev", "veth1", "--netns", host, "--json",
                                     check=True).stdout)
                ns_ = json.loads(cora("stats", "--dev", "veth0", "--netns", nic, "--json",
                                      check=True).stdout)
                if ((ns_["verdicts"]["pass"] >= 400 and hs["verdicts"]["tx"] >= 400)
                        or time.monotonic() > deadline):
                    break
                time.sleep(0.05)
            assert ns_["verdicts"]["pass"] == 400          # every frame handed to the host
            assert hs["verdicts"]["tx"] == 400             # the host stage finished lb
            program = compile_file(str(LB))
            stages = split(program, json.loads(plan.read_text())["plan"]).stages
            for st, maps in zip(stages, (ns_["maps"], hs["maps"]), strict=True):   # state per stage
                assert set(maps) == set(st.owned_states) | set(st.replicated_states)
            assert "conns" in hs["maps"]
            interp = Interpreter(program)
            for f in frames:
                interp.run(f)
            want = sorted(tuple(k) for k, _ in interp.state_entries("conns"))
            got = sorted(tuple(e["key"]) for e in hs["maps"]["conns"])
            assert got == want and len(got) == 40
            undeployed = cora("undeploy", "--dev", "veth1", "--netns", host, check=True)
        finally:
            # an exception anywhere above (even in the deploy) must not leave pins under
            # /sys/fs/bpf once the namespaces are gone
            if undeployed is None:
                _remove_stages(host, nic)
        assert "NIC stage" in undeployed.stdout
        assert not list(Path("/sys/fs/bpf/cora").glob(f"{host}*"))
        assert not list(Path("/sys/fs/bpf/cora").glob(f"{nic}*"))
        assert "nothing is deployed" in one_line_error(cora("stats", "--dev", "veth0",
                                                            "--netns", nic))


def _remove_stages(host: str, nic: str) -> None:
    """Undeploy both stages of a failed test's split deployment and remove any pin, metadata
    or journal left (the namespaces are deleted right after)."""
    import contextlib

    from cora.runtime import pins
    from cora.runtime.deploy import undeploy

    for dev, ns in (("veth1", host), ("veth0", nic)):
        with contextlib.suppress(Exception):
            undeploy(dev, ns)
        pins.unpin_all(pins.deployment_dir(dev, ns))
        pins.remove_metadata(dev, ns)
        pins.remove_journal(dev, ns)
