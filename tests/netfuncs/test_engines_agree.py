"""Every NF on its stateful scenario (tests/netfuncs/scenarios.py): the kernel (XDP program
under BPF_PROG_TEST_RUN) and the reference interpreter agree on every frame, through the
`cora run --engine both --json` contract of issue 2 section 6."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from .nfkit import NF, NF_NAMES, compile_nf, nf_path
from .scenarios import SCENARIOS, write_pcap

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


@pytest.mark.parametrize("name", NF_NAMES)
def test_kernel_and_interpreter_agree_on_the_scenario(name, tmp_path, bcc_module):
    records = SCENARIOS[name]()
    pcap = tmp_path / f"{name}.pcap"
    write_pcap(pcap, records)
    # what the interpreter alone says, to check the counts the command reports
    nf = NF(compile_nf(name))
    want = Counter(nf.send(frame, ts).verdict for ts, frame in records)

    r = subprocess.run([sys.executable, "-m", "cora.cli", "run", str(nf_path(name)),
                        "--pcap", str(pcap), "--engine", "both", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout)
    assert report["packets"] == len(records) and report["skipped"] == 0
    assert report["mismatches"] == 0, report
    got = {k: v for k, v in report["verdicts"].items() if v}
    assert got == dict(want)
