"""`cora demo` and testbed topologies clean up on SIGTERM and SIGINT: started in a
subprocess, signalled once what they build exists (found by polling with a deadline), and
afterwards no namespace, pin, metadata or attached program of theirs is left."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cora.runtime import pins

DEADLINE_S = 300.0


def _netns_of(pid: int) -> list[str]:
    from pyroute2 import netns
    return [n for n in netns.listnetns() if n.startswith(f"cora-{pid}-")]


def _poll(what: str, proc: subprocess.Popen, cond) -> object:
    """Poll ``cond()`` until it returns something truthy; fail if ``proc`` ends first or
    the deadline passes."""
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"exited ({proc.returncode}) before {what}: {out[-2000:]} {err[-2000:]}")
        time.sleep(0.05)
    pytest.fail(f"no {what} within {DEADLINE_S} s")


def _leftovers(pid: int) -> list[str]:
    """What a run with pid ``pid`` left: namespaces, pins, metadata (all carry its prefix)."""
    prefix = f"cora-{pid}-"
    out = [f"netns {n}" for n in _netns_of(pid)]
    for root in (pins.PIN_ROOT, pins.META_ROOT):
        if root.is_dir():
            out += [str(p) for p in root.iterdir() if p.name.startswith(prefix)]
    return out


@contextlib.contextmanager
def _started(argv: list[str]):
    proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        from cora.testbed.topology import cleanup_stale
        prefix = f"cora-{proc.pid}-"
        for root in (pins.PIN_ROOT, pins.META_ROOT):
            for p in (root.glob(f"{prefix}*") if root.is_dir() else []):
                for dev in (p.iterdir() if p.is_dir() else []):
                    if root == pins.PIN_ROOT:
                        pins.unpin_all(dev)
                    else:
                        dev.unlink()
                with contextlib.suppress(OSError):
                    p.rmdir()
        cleanup_stale(prefix, only_dead=False)


@pytest.fixture(scope="module")
def tiny_traces(tmp_path_factory) -> Path:
    """A folder with one small capture of the demo's own frames (keeps step 2 short)."""
    import dpkt

    from cora.testbed.demo import demo_frames

    d = tmp_path_factory.mktemp("traces")
    frames, _ = demo_frames(n_flows=8)
    with open(d / "tiny.pcap", "wb") as fh:
        w = dpkt.pcap.Writer(fh)
        for i, f in enumerate(frames):
            w.writepkt(f, ts=i * 1e-6)
    return d


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.parametrize("when", ["namespace", "deployed"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_demo_cleans_up_on_signal(sig, when, tiny_traces):
    with _started(["-m", "cora.cli", "demo", "--seconds", "600", "--traces",
                   str(tiny_traces)]) as proc:
        ns = _poll("demo namespace", proc,
                   lambda: [n for n in _netns_of(proc.pid) if n.endswith("dut")])[0]
        if when == "deployed":  # the NF is attached and its maps are pinned
            _poll("pinned deployment", proc,
                  lambda: (pins.metadata_path("veth0", ns).exists()
                           and (pins.deployment_dir("veth0", ns) / "prog").exists()))
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=DEADLINE_S)
        assert "Traceback" not in err, err[-3000:]
        assert proc.returncode == (130 if sig == signal.SIGINT else 128 + sig), (
            proc.returncode, out[-2000:], err[-2000:])
        # its namespaces went (with them the veth pair and the attached program), and so
        # did its pins and metadata
        assert _leftovers(proc.pid) == []


@pytest.mark.netns
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_topology_cleans_up_on_signal(sig):
    script = textwrap.dedent("""
        import sys, time
        from cora.testbed.topology import Topology
        with Topology() as topo:
            topo.add_namespace("a")
            topo.add_namespace("b")
            topo.add_link("a", "b")
            topo.add_link("a", None)   # one end in the root namespace
            print(topo.prefix, flush=True)
            while True:
                time.sleep(1)
    """)
    with _started(["-c", script]) as proc:
        prefix = proc.stdout.readline().strip()
        assert prefix.startswith(f"cora-{proc.pid}-"), prefix
        assert len(_netns_of(proc.pid)) == 2
        proc.send_signal(sig)
        proc.communicate(timeout=DEADLINE_S)
        assert proc.returncode != 0
        assert _netns_of(proc.pid) == []
        from cora.testbed.topology import ipr
        with ipr() as ip:
            assert not [link for link in ip.get_links()
                        if (link.get_attr("IFLA_IFALIAS") or "").startswith(prefix)]
