"""Files the user names are read safely: NF sources, plans, warm starts and captures must be
regular files of bounded size (a FIFO, /dev/zero, /dev/urandom or a directory get one line
and exit 1, within a deadline, without being read), and captures are streamed and checked
record by record."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import dpkt
import pytest

from cora.errors import InputError
from cora.testbed.replay import MAX_SNAPLEN_BYTES, iter_pcap, read_pcap

REPO = Path(__file__).resolve().parents[2]
LB = REPO / "netfuncs" / "lb.nf"
DEADLINE_S = 60  # a hang (reading a FIFO or /dev/zero) fails the test instead of blocking it


def cora(*args):
    return subprocess.run([sys.executable, "-m", "cora.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=DEADLINE_S)


def one_line_error(r) -> str:
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
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


# ---------------------------------------------------------------------------- captures
def _record(frame: bytes, caplen: int | None = None, sec: int = 1) -> bytes:
    n = len(frame) if caplen is None else caplen
    return struct.pack("<IIII", sec, 0, n, max(n, len(frame))) + frame


def _header(linktype: int = 1, snaplen: int = 65535, major: int = 2) -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, major, 4, 0, 0, snaplen, linktype)


FRAME = b"\x02" * 60


@pytest.mark.parametrize("content,match", [
    (_header() + _record(FRAME) + _record(FRAME)[:30],
     r"truncated pcap: record 2 claims 60 bytes, only 14 left"),
    (_header() + _record(FRAME) + _record(FRAME)[:9], r"record 2 header cut short at byte 100"),
    (_header() + _record(FRAME) + _record(b"", caplen=0xFFFFFFF0),
     rf"record 2 at byte 100 claims {0xFFFFFFF0} captured bytes, more than any capture holds "
     rf"\({MAX_SNAPLEN_BYTES}\)"),
    (_header(linktype=105) + _record(FRAME), r"link type 105 \(IEEE802_11\) is not Ethernet"),
    (_header(major=3) + _record(FRAME), r"pcap version 3.4 is not supported"),
    (_header()[:20], r"truncated pcap file header"),
])
def test_bad_captures_name_the_record(tmp_path, content, match):
    p = tmp_path / "bad.pcap"
    p.write_bytes(content)
    with pytest.raises(InputError, match=match) as info:
        read_pcap(p)
    assert "\n" not in info.value.message and str(p) in info.value.message


def test_streamed_record_by_record(tmp_path):
    """The good records before a bad one are yielded before the bad one is read: the file is
    checked as it is read, not loaded first."""
    p = tmp_path / "later-bad.pcap"
    p.write_bytes(_header() + _record(FRAME, sec=1) + _record(FRAME, sec=2)
                  + _record(b"", caplen=MAX_SNAPLEN_BYTES + 1))
    it = iter_pcap(p)
    assert next(it) == (1_000_000_000, FRAME)
    assert next(it) == (2_000_000_000, FRAME)
    with pytest.raises(InputError, match="record 3"):
        next(it)


def test_cli_bad_capture_one_line(tmp_path):
    p = tmp_path / "cut.pcap"
    p.write_bytes(_header() + _record(FRAME) + _record(FRAME)[:30])
    line = one_line_error(cora("run", LB, "--pcap", p, "--engine", "interp"))
    assert f"{p}: truncated pcap: record 2" in line


def _pcapng(frames: list[bytes], linktype: int = 1) -> bytes:
    import io
    buf = io.BytesIO()
    w = dpkt.pcapng.Writer(buf, linktype=linktype)
    for i, f in enumerate(frames):
        w.writepkt(f, ts=1000 + i)
    return buf.getvalue()


def test_pcapng_supported_and_checked(tmp_path):
    good = tmp_path / "good.pcapng"
    good.write_bytes(_pcapng([FRAME, FRAME[:20]]))
    assert read_pcap(good) == [(1000_000_000_000, FRAME), (1001_000_000_000, FRAME[:20])]
    for cut in (1, 7, 30):
        bad = tmp_path / f"cut{cut}.pcapng"
        bad.write_bytes(good.read_bytes()[:-cut])
        with pytest.raises(InputError, match="truncated pcapng|pcapng record 2 is unreadable"):
            read_pcap(bad)
    other = tmp_path / "wifi.pcapng"
    other.write_bytes(_pcapng([FRAME], linktype=105))
    with pytest.raises(InputError, match="link type 105"):
        read_pcap(other)
    junk = tmp_path / "junk.pcapng"
    junk.write_bytes(good.read_bytes()[:12])
    with pytest.raises(InputError, match="unreadable pcapng header"):
        read_pcap(junk)
