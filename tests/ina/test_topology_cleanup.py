"""The INA testbed removes its namespaces when its process gets SIGTERM or SIGINT."""

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
