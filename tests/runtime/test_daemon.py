"""The crash-only runtime daemon for real (issue 11, item 6): flowcount on a veth in a test
namespace, live frames from the peer namespace; the daemon is SIGKILLed mid-traffic, frames
keep flowing, a restarted daemon re-adopts the deployment (same program, no reload) and at
the end every frame is counted once and the flow table equals the interpreter's over the
same frame sequence. Also: a second daemon refuses, malformed control requests get an error
reply and the daemon keeps answering, the socket is 0600, SIGTERM leaves the dataplane."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cora.runtime import pins
from tests.runtime.cli_run import cora, one_line_error
from tests.runtime.split_helpers import wait_until

REPO = Path(__file__).resolve().parents[2]
FLOWCOUNT = REPO / "netfuncs" / "flowcount.nf"
DEV = "veth0"

pytestmark = [pytest.mark.kernel, pytest.mark.netns, pytest.mark.slow]


def start(ns: str, *extra: str) -> subprocess.Popen:
    """``cora runtime start`` in the foreground, as a child process (stderr captured)."""
    return subprocess.Popen([sys.executable, "-m", "cora.cli", "runtime", "start",
                             str(FLOWCOUNT), "--dev", DEV, "--netns", ns, "--interval", "0.2",
                             "--min-packets", "1", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def serving(ns: str, proc: subprocess.Popen) -> dict:
    """Wait until the daemon ``proc`` answers status; returns the status."""
    from cora.errors import EnvironmentProblem
    from cora.runtime.daemon import control_request

    def ask():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        with contextlib.suppress(EnvironmentProblem):
            reply = control_request(DEV, ns, "status", timeout_s=10)
            if reply.get("ok") and reply["pid"] == proc.pid and reply["windows"] >= 2:
                return reply
        return None
    return wait_until(ask, "the daemon's control socket")


@contextlib.contextmanager
def dut_testbed():
    from cora.testbed.topology import two_node

    with two_node() as topo:
        ns = topo.ns("dut")
        procs: list[subprocess.Popen] = []
        try:
            yield topo.ns("gen"), ns, procs
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            from cora.runtime.daemon import runtime_paths
            from cora.runtime.deploy import undeploy
            with contextlib.suppress(Exception):
                undeploy(DEV, ns)
            pins.unpin_all(pins.deployment_dir(DEV, ns))
            pins.remove_metadata(DEV, ns)
            pins.remove_journal(DEV, ns)
            paths = runtime_paths(DEV, ns)
            for f in (paths.lock, paths.sock, paths.state, paths.history, paths.prom,
                      paths.log):
                with contextlib.suppress(FileNotFoundError):
                    f.unlink()
            with contextlib.suppress(OSError):
                paths.lock.parent.rmdir()


def test_sigkill_leaves_the_dataplane_and_a_restart_readopts_it(bcc_module):
    from cora.compiler import compile_file
    from cora.runtime.daemon import control_request, runtime_paths
    from cora.runtime.deploy import read_stats
    from cora.testbed.live_traffic import (
        BackgroundTraffic,
        interpreter_state,
        verdict_total,
        wait_for_verdicts,
    )
    from cora.testbed.trafficgen import synthetic_flows

    program = compile_file(FLOWCOUNT)
    frames = synthetic_flows(40, seed=5) + synthetic_flows(20, proto="tcp", seed=6)
    with dut_testbed() as (gen_ns, ns, procs):
        first = start(ns)
        procs.append(first)
        status = serving(ns, first)
        assert status["adopted"] is False
        meta = read_stats(DEV, ns)
        prog_id = meta["prog_id"]
        paths = runtime_paths(DEV, ns)
        assert stat.S_IMODE(os.stat(paths.sock).st_mode) == 0o600

        # a second daemon for the same device refuses, in one line
        err = one_line_error(cora("runtime", "start", FLOWCOUNT, "--dev", DEV, "--netns", ns))
        assert f"already runs for {DEV}" in err and str(first.pid) in err

        # malformed requests: an error reply each, and the daemon keeps answering
        for raw in (b"garbage\n", b'{"cmd": "rm -rf"}\n', b"[]\n", b"\xff\n"):
            reply = control_request(DEV, ns, "status", raw=raw)
            assert reply["ok"] is False and reply["error"]
        assert control_request(DEV, ns, "status")["ok"]

        with BackgroundTraffic(DEV, gen_ns, frames, rate_pps=5_000) as traffic:
            traffic.wait_generated(3000)
            first.send_signal(signal.SIGKILL)
            first.wait()
            # the dataplane forwards without any daemon
            before = verdict_total(DEV, ns)
            traffic.wait_generated(traffic.gen.generated() + 3000)
            wait_until(lambda: verdict_total(DEV, ns) > before + 2000,
                       "frames counted after the kill")
            flows_while_down = read_stats(DEV, ns)["maps"]["flows"]
            assert flows_while_down

            second = start(ns)
            procs.append(second)
            status = serving(ns, second)
            assert status["adopted"] is True
            assert read_stats(DEV, ns)["prog_id"] == prog_id  # re-adopted, not reloaded
            traffic.wait_generated(traffic.gen.generated() + 2000)
            sent = traffic.stop()
        seen = wait_for_verdicts(DEV, ns, sent)
        assert seen == sent, f"{sent} frames generated, {seen} seen by the NF"
        expected = interpreter_state(program, traffic.sequence(sent))["maps"]["flows"]
        assert read_stats(DEV, ns)["maps"]["flows"] == expected  # every entry and count

        history = control_request(DEV, ns, "history")["history"]
        assert len(history) >= 4 and {"window", "action", "reason"} <= set(history[0])
        prom = paths.prom.read_text()
        assert "cora_runtime_packets_total{" in prom and 'verdict="pass"' in prom

        # SIGTERM: the daemon ends, the dataplane stays
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
        assert "event=stop" in second.communicate()[1]
        assert read_stats(DEV, ns)["attached"]


def test_daemon_mode_and_stop_with_teardown(bcc_module):
    """``--daemon`` detaches once the socket serves; ``stop`` with ``--teardown-on-exit``
    removes the deployment and the daemon's process ends."""
    from cora.runtime.daemon import control_request, runtime_paths
    from cora.runtime.deploy import deployment_status

    with dut_testbed() as (_gen_ns, ns, _procs):
        r = cora("runtime", "start", FLOWCOUNT, "--dev", DEV, "--netns", ns, "--interval",
                 "0.2", "--daemon", "--teardown-on-exit", check=True)
        assert "daemon started" in r.stdout
        assert control_request(DEV, ns, "status")["pid"] > 0
        assert deployment_status(DEV, ns) == "complete"
        for what in ("status", "history", "replan"):
            r = cora("runtime", what, "--dev", DEV, "--netns", ns, "--json", check=True)
            reply = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(c))
            assert reply["ok"] is True
        assert reply["decision"]["action"] in ("idle", "keep", "adopt", "error")
        r = cora("runtime", "stop", "--dev", DEV, "--netns", ns, check=True)
        assert "tearing" in r.stdout
        sock = runtime_paths(DEV, ns).sock
        wait_until(lambda: not sock.exists(), "the daemon's exit (its socket removed)")
        assert deployment_status(DEV, ns) == "none"
        err = one_line_error(cora("runtime", "status", "--dev", DEV, "--netns", ns))
        assert "no cora runtime daemon runs" in err


def test_a_plan_change_swaps_both_stages_and_moves_the_flow_table(bcc_module):
    """Split deployment (emulated NIC namespace in front of the host): the daemon starts with
    every block on the host, the live profile shows drift, the re-plan (bluefield2 model)
    puts the NF on the NIC and gains more than the hysteresis in 2 windows in a row: it
    swaps the NIC stage in with the flow table moved by read-through, then the host stage.
    At the end every generated frame was seen once by the first stage (all versions) and
    the flow table (on the NIC now) equals the interpreter's."""
    from cora.compiler import compile_file
    from cora.runtime.daemon import control_request, runtime_paths
    from cora.runtime.deploy import read_stats, undeploy
    from cora.testbed.live_traffic import BackgroundTraffic, interpreter_state, wait_for_verdicts
    from cora.testbed.offload_experiment import three_node
    from cora.testbed.topology import Topology
    from cora.testbed.trafficgen import synthetic_flows

    program = compile_file(FLOWCOUNT)
    frames = synthetic_flows(40, seed=7) + synthetic_flows(20, proto="tcp", seed=8)
    with Topology() as topo:
        three_node(topo)
        gen_ns, nic_ns, host_ns = topo.ns("gen"), topo.ns("nic"), topo.ns("host")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cora.cli", "runtime", "start", str(FLOWCOUNT),
             "--dev", "veth1", "--netns", host_ns, "--nic-dev", "veth0", "--nic-netns",
             nic_ns, "--nic", "bluefield2", "--interval", "0.2", "--min-packets", "50",
             "--consecutive", "2", "--model-rate", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: proc.poll() is None and runtime_paths("veth1", host_ns).sock
                       .exists(), "the daemon's socket")
            assert control_request("veth1", host_ns, "status")["ok"]  # deployed: traffic on
            with BackgroundTraffic("veth0", gen_ns, frames, rate_pps=5_000) as traffic:
                def changed():
                    assert proc.poll() is None, proc.communicate()[1][-3000:]
                    with contextlib.suppress(Exception):
                        st = control_request("veth1", host_ns, "status", timeout_s=10)
                        return st["ok"] and st["plan_changes"] >= 1 and st
                    return None
                try:
                    status = wait_until(changed, "a plan change", timeout_s=60)
                except AssertionError:
                    proc.kill()
                    raise AssertionError("no plan change; daemon log: "
                                         + proc.communicate()[1][-2500:]) from None
                assert status["swap_failures"] == 0
                assert "nic" in status["plan"]["blocks"].values()
                traffic.wait_generated(traffic.gen.generated() + 2000)
                sent = traffic.stop()
            seen = wait_for_verdicts("veth0", nic_ns, sent)
            assert seen == sent, f"{sent} frames generated, {seen} seen by the first stage"
            expected = interpreter_state(program, traffic.sequence(sent))["maps"]["flows"]
            assert read_stats("veth0", nic_ns)["maps"]["flows"] == expected
            assert "flows" not in read_stats("veth1", host_ns)["maps"]
            history = control_request("veth1", host_ns, "history")["history"]
            acts = [d["action"] for d in history if d["action"] in ("wait", "adopt")]
            first_adopt = acts.index("adopt")
            assert first_adopt >= 1 and set(acts[:first_adopt]) == {"wait"}, acts
            adopt = next(d for d in history if d["action"] == "adopt")
            # windows of fewer than 50 frames (the generator starved at load) are idle
            prior = [d for d in history
                     if d["window"] < adopt["window"] and d["action"] != "idle"]
            assert prior[-1]["action"] == "wait"
            assert any(d["prepare_started"] for d in prior)
            # the migrating plan was prepared ahead (read-through and retire versions):
            # the adoption only committed (two stages, the NIC's a migration)
            assert adopt["prepared_ahead"] and adopt["prepare_s"] is not None
            assert adopt["commit_ms"] is not None and len(adopt["commit_ms"]) == 2
            assert adopt["first_gain_window"] is not None
            assert adopt["first_gain_window"] < adopt["window"]
            assert adopt["latency_ms"] is not None and adopt["latency_ms"] > 0
            # the NIC's retire swap ran too, after the host's commit (off the latency):
            # read-through replace, host replace, retire replace
            assert len(adopt["replace_ms"]) == 3, adopt["replace_ms"]
            assert set(adopt["migrate_ms"]) == {"read_through_swap", "grace", "copy",
                                                "retire_swap"}
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
            log = proc.communicate()[1]
            assert "event=migrate" in log and "event=plan-change" in log
            from cora.runtime.pins import deployment_dir
            from cora.runtime.swap import STAGED_DIR

            for ns, dev in ((host_ns, "veth1"), (nic_ns, "veth0")):  # nothing left staged
                assert not (deployment_dir(dev, ns) / STAGED_DIR).exists()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            with contextlib.suppress(Exception):
                undeploy("veth1", host_ns)
            with contextlib.suppress(Exception):
                undeploy("veth0", nic_ns)
            for ns, dev in ((host_ns, "veth1"), (nic_ns, "veth0")):
                pins.unpin_all(pins.deployment_dir(dev, ns))  # whatever undeploy left
                pins.remove_metadata(dev, ns)
                pins.remove_journal(dev, ns)
                paths = runtime_paths(dev, ns)
                for f in (paths.lock, paths.sock, paths.state, paths.history, paths.prom):
                    with contextlib.suppress(FileNotFoundError):
                        f.unlink()
                with contextlib.suppress(OSError):
                    paths.lock.parent.rmdir()
