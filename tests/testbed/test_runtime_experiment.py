"""Issue 11 item 7: the runtime experiment. Its pieces without a kernel (the phases' frames,
the state comparison, the table and the plot), and a short run end to end: ``cora runtime
start`` as its own process on the emulated NIC + host testbed, synguard under heavy flows ->
new flows -> a SYN flood at one fixed rate; the daemon detects each shift on its live profile
and changes the plan on its own, and nothing is lost (frames, map entries)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cora.testbed.runtime_experiment import (
    PHASES,
    ExperimentResult,
    Sample,
    compare_state,
    phase_frames,
    plot,
    table,
)

REPO = Path(__file__).resolve().parents[2]


def test_phase_frames_are_seeded_distinct_and_shaped_as_described():
    for nf in ("synguard", "flowcount", "lb", "firewall"):
        heavy, new, syn = (phase_frames(nf, p, 500) for p in PHASES)
        assert len(heavy) == 4 and len(set(new)) == 500 and len(set(syn)) == 500
        assert phase_frames(nf, "new-flows", 500) == new  # seeded
        for f in heavy + new + syn:
            assert len(f) == 64 and f[12:14] == b"\x08\x00" and f[23] == 6  # IPv4/TCP
        assert {f[47] for f in heavy + new} == {0x10} and {f[47] for f in syn} == {0x02}
        # a new source every frame (synguard's `known` gets an insert per frame); the
        # firewall's flows come from inside 10.11.1.0/24 (new 5-tuples there)
        srcs = {f[26:30] for f in syn}
        assert len(srcs) == 500 and all(s[0] == 11 for s in srcs)
        if nf != "firewall":
            assert len({f[26:30] for f in new}) == 500
        else:
            assert all(f[26:29] == bytes([10, 11, 1]) for f in new)
    with pytest.raises(ValueError, match="unknown phase"):
        phase_frames("synguard", "calm", 10)


def test_compare_state_counts_missing_extra_differing_and_clock_dependent_values():
    ref = {"m": [{"key": [1], "value": [5]}, {"key": [2], "value": [7]},
                 {"key": [3], "value": [9]}],
           "c": [{"key": [0], "value": [4]}]}
    live = {"m": [{"key": [1], "value": [5]}, {"key": [2], "value": [8]},
                  {"key": [4], "value": [1]}],
            "c": [{"key": [0], "value": [4]}]}
    st = compare_state(live, ref)
    assert (st.entries, st.missing, st.extra, st.values_compared, st.values_differ) == \
        (4, 1, 1, 3, 1)
    assert not st.ok
    # under another clock key 2's value changes: not compared (its key is)
    alt = {"m": [{"key": [1], "value": [5]}, {"key": [2], "value": [99]},
                 {"key": [3], "value": [9]}], "c": [{"key": [0], "value": [4]}]}
    st = compare_state(live, ref, alt)
    assert (st.values_compared, st.values_differ, st.values_clock_dependent) == (2, 0, 1)
    assert compare_state(ref, ref).ok


def test_table_and_plot_label_modelled_and_measured_figures(tmp_path):
    res = ExperimentResult("synguard", "bluefield2", 30.0, 400.0, 10.0, 0.5,
                           static_plan_nic_blocks=20, blocks=46)
    for i, (phase, changes) in enumerate([("heavy", 0), ("heavy", 1), ("new-flows", 2)]):
        res.samples.append(Sample(0.5 * i, i + 1, phase, 400.0, "keep", "", 0.0, 0.5,
                                  1.9, 0.57, changes, 46))
    res.changes = [{"window": 2, "phase": "heavy", "nic_blocks": 46, "reason": "gain",
                    "latency_ms": 50.0, "handover_ms": 70.0}]
    text = table(res)
    assert "MODELLED" in text and "measured" in text and "synguard" in text
    assert "window 2 (heavy): -> 46 NIC blocks" in text
    png = tmp_path / "x.png"
    plot(res, str(png))
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert res.to_json()["plan_changes"] == 1


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.slow
@pytest.mark.long  # ~40 s: `make test-long` (CI budget); bench/runtime.py --experiment runs it too
def test_cora_runtime_start_follows_two_shifts_without_loss(bcc_module):
    """synguard, bluefield2 model at 30 Mpps, 400 frames/s, 10 s phases: the static plan
    (CP-SAT on the whole sequence) splits the NF; the daemon moves it all onto the NIC under
    heavy flows, back to the split when new sources arrive (all on the NIC would overload
    it), and onto the NIC again under the SYN flood; each change carries state across
    stages (a migration). Every frame generated is seen once; every map entry is the
    interpreter's."""
    from cora.testbed.runtime_experiment import run_experiment

    res = run_experiment(str(REPO / "netfuncs" / "synguard.nf"), rate_pps=400, phase_s=10.0,
                         interval_s=0.5, model_rate_mpps=30.0)
    by_phase = {p: [c for c in res.changes if c["phase"] == p] for p in PHASES}
    assert by_phase["new-flows"] and by_phase["syn-flood"], res.changes
    assert by_phase["new-flows"][-1]["nic_blocks"] < res.blocks  # the split
    assert by_phase["syn-flood"][-1]["nic_blocks"] == res.blocks  # all on the NIC
    assert "overloads the NIC" in by_phase["new-flows"][-1]["reason"]
    assert res.frames_sent == sum(res.frames_per_phase.values()) > 10_000
    assert res.frames_seen == res.frames_sent
    assert res.state.entries > 4000 and res.state.ok, res.state
    assert res.samples and all(s.cores_current is not None for s in res.samples
                               if (s.rate_pps or 0) > 100)
