"""Files the user names are read safely: NF sources, plans, warm starts and captures must be
regular files of bounded size (a FIFO, /dev/zero, /dev/urandom or a directory get one line
and exit 1, within a deadline, without being read), and captures are streamed and checked
record by record."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cora.errors import InputError
from cora.testbed.replay import read_pcap

REPO = Path(__file__).resolve().parents[2]
LB = REPO / "netfuncs" / "lb.nf"
DEADLINE_S = 60  # a hang (reading a FIFO or /dev/zero) fails the test instead of blocking it


def cora(*args):
    return subprocess.run([sys.executable, "-m", "cora.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=DEADLINE_S)


def one_line_error(r) -> str:
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("cora: error: "), r.stderr
    return lines[0]


@pytest.fixture
def fifo(tmp_path) -> Path:
    p = tmp_path / "pipe"
    os.mkfifo(p)
    return p


def _specials(fifo: Path, tmp_path: Path) -> dict[str, tuple[Path, str]]:
    return {"fifo": (fifo, "FIFO"), "zero": (Path("/dev/zero"), "character device"),
            "urandom": (Path("/dev/urandom"), "character device"),
            "dir": (tmp_path, "directory")}


@pytest.mark.parametrize("kind", ["fifo", "zero", "urandom", "dir"])
def test_special_files_refused_everywhere(kind, fifo, tmp_path):
    path, word = _specials(fifo, tmp_path)[kind]
    out = tmp_path / "out"
    cases = {
        "NF source": ["check", path],
        "plan": ["compile", LB, "-o", out, "--plan", path],
        "pcap": ["run", LB, "--pcap", path, "--engine", "interp"],
    }
    for what, argv in cases.items():
        line = one_line_error(cora(*argv))
        assert f"cannot read {what} {path}: it is a" in line and word in line, line
    line = one_line_error(cora("plan", LB, "--nic", "agilio", "--rate", "1", "--warm-start",
                               path))
    assert line.startswith("cora: error: --warm-start: cannot read plan") and word in line


def test_size_caps(tmp_path):
    from cora.inputs import MAX_PLAN_BYTES, MAX_SOURCE_BYTES
    from cora.testbed.replay import MAX_PCAP_BYTES

    big = tmp_path / "big.nf"
    big.write_bytes(b"#" * (MAX_SOURCE_BYTES + 1))
    assert f"{MAX_SOURCE_BYTES + 1} bytes, more than" in one_line_error(cora("check", big))
    plan = tmp_path / "big.json"
    with open(plan, "wb") as fh:  # sparse: no disk space used
        fh.truncate(MAX_PLAN_BYTES + 1)
    assert "more than the 64 MiB" in one_line_error(cora("compile", LB, "-o", tmp_path,
                                                         "--plan", plan))
    pcap = tmp_path / "big.pcap"
    with open(pcap, "wb") as fh:
        fh.truncate(MAX_PCAP_BYTES + 1)
    with pytest.raises(InputError, match="more than the 1024 MiB"):
        read_pcap(pcap)


def test_plan_not_utf8(tmp_path):
    plan = tmp_path / "p.json"
    plan.write_bytes(b'{"blocks": "\xff\xfe"}')
    assert "not UTF-8 text (byte 12)" in one_line_error(
        cora("compile", LB, "-o", tmp_path, "--plan", plan))


def test_cli_bad_capture_one_line(tmp_path):
    import dpkt

    p = tmp_path / "cut.pcap"
    with open(p, "wb") as fh:
        w = dpkt.pcap.Writer(fh)
        for _ in range(2):
            w.writepkt(b"\x02" * 60, ts=1)
    p.write_bytes(p.read_bytes()[:-30])
    line = one_line_error(cora("run", LB, "--pcap", p, "--engine", "interp"))
    assert f"{p}: truncated pcap: record 2 claims 60 bytes, only 30 left" in line
