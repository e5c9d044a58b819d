"""The hand-written references of testbed/refs/ behave exactly like the compiled NFs.

bench/codegen.py times each library NF against its hand-written XDP reference; the ratio
means something only if both do the same thing. Here each reference and its compiled NF
run a real capture and a small synthetic trace side by side (BPF_PROG_TEST_RUN, now()
injected from the timestamps) and must give the same verdict and output bytes on every
frame and the same map content at the end. No timing here (that is bench/codegen.py).
"""

from __future__ import annotations

import pytest

from cora.settings import traces_dir
from cora.testbed import handwritten as hw

pytestmark = pytest.mark.kernel

CAPTURE = "of10_s4810.pcap"  # the capture with the most IPv4 TCP/UDP frames (137)


@pytest.fixture(scope="module")
def synthetic():
    """A small seeded synthetic trace (300 flows, 1,500 frames; see synthetic_trace)."""
    return hw.synthetic_trace(n_flows=300, n_frames=1500, seed=2)


@pytest.fixture(scope="module")
def capture():
    """A real capture from the corpus (CORA_TRACES)."""
    from cora.testbed.replay import read_pcap
    path = traces_dir() / CAPTURE
    if not path.exists():
        pytest.fail(f"the trace corpus is not at {traces_dir()}: set CORA_TRACES")
    return read_pcap(path)


def _compare(nf: str, records):
    from cora.compiler.driver import compile_file
    ref = hw.REFERENCES[nf]
    return hw.compare(ref, compile_file(str(ref.nf_path)), records)


def _assert_same(result: dict) -> None:
    assert result["frame_mismatches"] == 0, result["examples"]
    assert result["state_match"], result["state_diffs"]


@pytest.mark.parametrize("nf", sorted(hw.REFERENCES))
def test_reference_matches_nf_on_a_capture(bcc_module, capture, nf):
    result = _compare(nf, capture)
    _assert_same(result)
    assert result["frames_run"] == len(capture)


#: What the synthetic trace must exercise per NF, so that agreement is not vacuous:
#: verdicts that must occur, and maps that must end non-empty.
EXERCISED = {
    "flowcount": ({"pass"}, {"flows"}),
    "ratelimit": ({"pass", "drop"}, {"buckets", "stats"}),
    "firewall": ({"pass", "drop"}, {"conns", "drops"}),
    "lb": ({"pass", "tx"}, {"conns", "replies", "stats"}),
}


@pytest.mark.parametrize("nf", sorted(hw.REFERENCES))
def test_reference_matches_nf_on_synthetic_flows(bcc_module, synthetic, nf):
    result = _compare(nf, synthetic)
    _assert_same(result)
    verdicts, maps = EXERCISED[nf]
    assert verdicts <= set(result["verdicts"]), result["verdicts"]
    assert all(result["state_entries"][m] > 0 for m in maps), result["state_entries"]


def test_comparison_catches_a_different_program(bcc_module, synthetic, tmp_path):
    """The checker itself: flowcount.nf counting bytes one too high must be reported."""
    from cora.compiler.driver import compile_file
    ref = hw.REFERENCES["flowcount"]
    src = ref.nf_path.read_text().replace("flows[flow].bytes += pkt.len;",
                                          "flows[flow].bytes += pkt.len + 1;")
    assert "pkt.len + 1" in src
    variant = tmp_path / "flowcount.nf"
    variant.write_text(src)
    result = hw.compare(ref, compile_file(str(variant)), synthetic[:200])
    assert result["frame_mismatches"] == 0
    assert not result["state_match"]
    assert result["state_diffs"]["flows"]["different"] > 0
