"""Every NF of the library: checks clean, compiles, is documented, and survives real captures."""

from __future__ import annotations

import pytest

from cora.compiler.driver import check_source, compile_file
from cora.compiler.ir.text import parse_program, print_program
from cora.settings import traces_dir
from cora.testbed.replay import read_pcap

from .nfkit import NETFUNCS_DIR, NF, NF_NAMES, nf_path

TRACES = traces_dir()

# The verdicts each NF may give (from its header comment).
VERDICTS = {
    "flowcount": {"pass"},
    "firewall": {"pass", "drop"},
    "nat": {"pass", "drop"},
    "lb": {"pass", "drop", "tx"},
    "ratelimit": {"pass", "drop"},
    "heavyhitter": {"pass", "drop"},
    "synguard": {"pass", "drop"},
}


def test_the_library_is_exactly_the_documented_set():
    assert sorted(p.stem for p in NETFUNCS_DIR.glob("*.nf")) == sorted(NF_NAMES)
    readme = (NETFUNCS_DIR / "README.md").read_text()
    for name in NF_NAMES:
        assert f"`{name}.nf`" in readme


@pytest.mark.parametrize("name", NF_NAMES)
def test_check_source_reports_nothing(name):
    path = nf_path(name)
    assert check_source(path.read_text(), str(path)) == []


@pytest.mark.parametrize("name", NF_NAMES)
def test_compiles_and_ir_round_trips(name):
    program = compile_file(nf_path(name))
    text = print_program(program)
    assert print_program(parse_program(text)) == text


@pytest.mark.parametrize("name", NF_NAMES)
def test_header_comment_says_what_state_and_assumptions(name):
    lines = nf_path(name).read_text().splitlines()
    assert lines[0].startswith(f"// {name}.nf: ")
    header = []
    for line in lines:
        if not line.startswith("//"):
            break
        header.append(line)
    text = "\n".join(header)
    assert "State" in text
    assert len(header) >= 15


def test_flowcount_state_is_the_specified_map():
    (decl,) = compile_file(nf_path("flowcount")).states
    assert (decl.name, decl.kind, decl.capacity, decl.on_full) == ("flows", "hash", 65536, "skip")
    assert [f.width for f in decl.key] == [32, 32, 16, 16, 8]
    assert [f.width for f in decl.value] == [64, 64]


def _traces():
    out = []
    for p in sorted(TRACES.glob("*.pcap*")):
        try:
            out.append((p.name, read_pcap(p)))
        except Exception:           # not Ethernet / unreadable: cora run refuses it as well
            continue
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", NF_NAMES)
def test_real_captures_give_only_documented_verdicts(name):
    assert TRACES.is_dir(), f"the tcpdump traces are missing: {TRACES} (set CORA_TRACES)"
    """Every frame of every Ethernet capture (malformed ones included), now() = its timestamp:
    no exception, frame length kept, only the NF's documented verdicts."""
    program = compile_file(nf_path(name))
    seen = set()
    for trace, records in _traces():
        nf = NF(program)
        for ts, frame in records:
            if len(frame) < 14:
                continue
            out = nf.send(frame, ts)
            assert out.verdict in VERDICTS[name], (trace, out.verdict)
            seen.add(out.verdict)
    assert "pass" in seen
