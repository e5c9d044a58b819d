"""Mininet as an option: a cora NF deployed on a Mininet host counts the traffic another
Mininet host sends through the Linux bridge; everything is removed afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cora.testbed.mininet_testbed import MininetTestbed

pytestmark = [pytest.mark.kernel, pytest.mark.netns]
FLOWCOUNT = Path(__file__).resolve().parents[2] / "netfuncs" / "flowcount.nf"


def cora(*args):
    r = subprocess.run([sys.executable, "-m", "cora.cli", *map(str, args)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_deploy_on_a_mininet_host_counts_real_pings():
    with MininetTestbed(2) as tb:
        h1, h2 = tb.net.get("h1", "h2")
        cora("deploy", FLOWCOUNT, "--dev", tb.intf["h2"], "--netns", tb.ns["h2"], "--mode",
             "generic")
        try:
            # real UDP datagrams from h1 to h2 through the bridge (h2's stack answers
            # with ICMP port unreachable, which flowcount does not count)
            h1.cmd("for i in 1 2 3 4 5; do echo x > /dev/udp/10.0.0.2/9999; done; sleep 0.2")
            st = json.loads(cora("stats", "--dev", tb.intf["h2"], "--netns", tb.ns["h2"],
                                 "--json"))
        finally:
            cora("undeploy", "--dev", tb.intf["h2"], "--netns", tb.ns["h2"])
        # each write opens a new socket: 5 flows (distinct source ports) of one frame each,
        # 44 bytes = Ethernet 14 + IPv4 20 + UDP 8 + "x\n"
        udp = [e for e in st["maps"]["flows"] if e["key"][3] == 9999]
        assert len(udp) == 5 and all(e["value"] == [1, 44] for e in udp)
        assert all(e["key"][:2] == [167772161, 167772162] and e["key"][4] == 17 for e in udp)
        names = list(tb.ns.values())
    from pyroute2 import netns
    assert not set(names) & set(netns.listnetns())


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_mininet_testbed_cleans_up_on_signal(sig):
    """A killed experiment stops Mininet and removes its namespace names (polls for the
    names with a deadline, then signals once)."""
    import signal
    import textwrap
    import time

    from pyroute2 import netns

    prefix = f"cora-mnsig-{sig.lower()}-"
    script = textwrap.dedent(f"""
        import time
        from cora.testbed.mininet_testbed import MininetTestbed
        with MininetTestbed(2, prefix={prefix!r}) as tb:
            print("up", flush=True)
            while True:
                time.sleep(1)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        assert {f"{prefix}h1", f"{prefix}h2"} <= set(netns.listnetns())
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=120)
        assert "Traceback" not in err, err[-2000:]
        assert proc.returncode == 128 + getattr(signal, sig)
        end = time.monotonic() + 30
        while time.monotonic() < end and [n for n in netns.listnetns()
                                          if n.startswith(prefix)]:
            time.sleep(0.05)
        assert not [n for n in netns.listnetns() if n.startswith(prefix)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for n in netns.listnetns():
            if n.startswith(prefix):
                netns.remove(n)
