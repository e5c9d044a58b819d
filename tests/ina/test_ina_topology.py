"""The INA testbed: every worker link shaped both ways (HTB or TBF) and bridged; bad
arguments refused; its namespaces removed when its process gets SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from pyroute2 import netns

pytestmark = [pytest.mark.netns, pytest.mark.slow]

CHILD = """
import sys, time
from cora.testbed.ina_topology import InaTestbed
with InaTestbed(2, rate_mbit=5) as tb:
    print(tb.topo.prefix, flush=True)
    while True:
        time.sleep(0.1)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_removes_every_namespace(sig):
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        prefix = proc.stdout.readline().strip()
        assert prefix.startswith("cora-")
        assert len([n for n in netns.listnetns() if n.startswith(prefix)]) == 3
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    # the namespaces are deleted before the process exits
    assert not [n for n in netns.listnetns() if n.startswith(prefix)]


@pytest.mark.parametrize("shaper", ["htb", "tbf"])
def test_every_worker_link_is_shaped_both_ways(shaper):
    from cora.testbed.ina_topology import InaTestbed
    from cora.testbed.topology import ipr

    with InaTestbed(2, rate_mbit=7, shaper=shaper) as tb:
        # up: the worker's eth0 egress; down: its ifb0 egress, which eth0's ingress is
        # redirected through (so XDP-redirected frames into p<i> are shaped too)
        ends = [(ns, dev) for ns in tb.worker_ns for dev in ("eth0", "ifb0")]
        for ns, dev in ends:
            with ipr(ns) as ip:
                idx = ip.link_lookup(ifname=dev)[0]
                kinds = {q.get_attr("TCA_KIND") for q in ip.get_qdiscs(index=idx)}
                assert shaper in kinds, (ns, dev, kinds)
                if shaper == "htb":
                    rates = [c.get_attr("TCA_OPTIONS").get_attr("TCA_HTB_PARMS")["rate"]
                             for c in ip.get_classes(index=idx)]
                    assert rates == [7_000_000 // 8]  # bytes per second
        for ns in tb.worker_ns:
            out = subprocess.run(["ip", "netns", "exec", ns, "tc", "filter", "show", "dev",
                                  "eth0", "ingress"], capture_output=True, text=True).stdout
            assert "mirred" in out and "ifb0" in out, out
        with ipr(tb.switch_ns) as ip:
            br = ip.link_lookup(ifname="br0")[0]
            ports = [link.get_attr("IFLA_IFNAME") for link in ip.get_links()
                     if link.get_attr("IFLA_MASTER") == br]
            assert sorted(ports) == ["p0", "p1"]


def test_bad_testbed_arguments_are_refused():
    from cora.testbed.ina_topology import InaTestbed

    for kw, msg in ((dict(n_workers=9), "worker count"), (dict(n_workers=2, rate_mbit=0), "rate"),
                    (dict(n_workers=2, shaper="cake"), "shaper"),
                    (dict(n_workers=2, loss=1.0), "loss")):
        with pytest.raises(ValueError, match=msg):
            InaTestbed(**kw)
