"""The NIC stage models (compiler/offload/models/{agilio,bluefield2}.toml): every figure has a
source, the Agilio model follows the nfp driver's rules, and ``cora plan`` with each NIC puts
part of an NF of the library on the NIC at some rate (synthetic profile)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cora.cli import main
from cora.compiler.driver import compile_file
from cora.compiler.offload import baselines as bl
from cora.compiler.offload.partition import Problem, solve_problem
from cora.compiler.offload.profile import profile_from_frames, zipf_frames
from cora.compiler.offload.stage_model import ModelError, load_model, model_from_dict

ROOT = Path(__file__).resolve().parents[2]
NETFUNCS = sorted((ROOT / "netfuncs").glob("*.nf"))
NICS = ("agilio", "bluefield2")
#: rates tried, Mpps (the issue's range is 1-160)
RATES = ("1", "10", "40", "160")
#: NFs the Agilio model takes part of on the synthetic profile (every branch 50/50, no heavy
#: flows). firewall since counters that are only added to (its ``drops``) have a copy per
#: stage: the NIC ends malformed frames itself; synguard since now() reads the host-fed clock
#: and whole-entry writes run as map updates. The others pay only on skewed or capture mixes
#: (tests/compiler/test_partition_agilio.py): lb and ratelimit keep per-flow state in an
#: ``lru_map``, which the NIC holds (as a hash) only under a heavy-flow split; heavyhitter
#: and nat pass most frames they could finish on the NIC, and a frame the NIC passes still
#: runs the host's program (its per-packet cost and the done shim's pop), so their plans need
#: a Zipf mix (heavyhitter) or many untranslatable frames (nat); docs/offload.md, "What cora
#: plan takes".
AGILIO_OFFLOADS = {"flowcount", "firewall", "synguard"}


@pytest.mark.parametrize("nic", NICS)
def test_every_figure_has_a_source(nic):
    model = load_model(nic)
    for figure in model.figures():
        assert model.source_of(figure).strip(), figure
    # the figures the issue names have their own entry, not a table's fallback
    own = ["cores", "clock_ghz", "per_packet_ns", "max_instructions", "max_map_entries",
           *(f"tiers.{t.name}" for t in model.tiers)]
    assert all(f in model.sources for f in own), [f for f in own if f not in model.sources]


def test_a_model_without_a_source_is_refused():
    import tomllib
    data = tomllib.loads((ROOT / "compiler/offload/models/agilio.toml").read_text())
    del data["sources"]["zero_init_atomic"]
    with pytest.raises(ModelError, match="zero_init_atomic has no entry"):
        model_from_dict(data, "agilio.toml")
    data = tomllib.loads((ROOT / "compiler/offload/models/agilio.toml").read_text())
    data["atomic_counter_kinds"] = ["lru_hash"]
    with pytest.raises(ModelError, match="atomic_counter_kinds"):
        model_from_dict(data, "agilio.toml")


def test_agilio_follows_the_nfp_driver():
    m = load_model("agilio")
    assert "ref.store" in m.excluded_opcodes
    # no bpf_ktime_get_ns: now() reads a clock the host writes every 1 ms
    assert "now" not in m.excluded_opcodes and m.host_clock_period_ns == 1_000_000
    assert "CLOCK_MONOTONIC" in m.source_of("host_clock_period_ns")
    assert "map_write" in m.op_classes           # the class of atomic_add
    assert "lru_hash" not in m.map_kinds and "lpm" not in m.map_kinds
    assert m.atomic_counter_kinds == ("percpu_array",) and m.zero_init_atomic
    assert "redirect" not in m.verdicts
    # 48 cores at 600 ns: an empty program reaches 80 Mpps, above 2x25GbE line rate (74.4)
    assert m.cores * 1e3 / m.per_packet_ns == pytest.approx(80.0)
    # an atomic add costs less than the plain read-modify-write it replaces, per tier
    p = compile_file(ROOT / "netfuncs" / "flowcount.nf")
    add = next(op for _, op in p.ops() if op.opcode == "atomic_add")
    assert m.op_ns(add, "hash", "EMEM") == pytest.approx(3.75 + 78.1)


@pytest.mark.parametrize("nic", NICS)
def test_host_and_nic_models_cost_the_atomic_add(nic):
    for name in (nic, "xdp", "tc", "user"):
        m = load_model(name)
        assert "atomic_add" in m.opcode_cost_ns, name
        assert m.source_of("opcode_cost_ns.atomic_add").strip()


def _plan(capsys, nf: Path, nic: str, rate: str) -> dict:
    rc = main(["plan", str(nf), "--nic", nic, "--rate", rate, "--json", "--time-limit", "2",
               "--workers", "1"])
    out = capsys.readouterr()
    assert rc in (0, 1), out.err
    return json.loads(out.out)


@pytest.mark.slow
@pytest.mark.parametrize("nic", NICS)
@pytest.mark.parametrize("nf", NETFUNCS, ids=lambda p: p.stem)
def test_cora_plan_offloads_part_of_the_nf_at_some_rate(capsys, nf, nic):
    offloaded = {}
    for rate in RATES:
        doc = _plan(capsys, nf, nic, rate)
        if doc["plan"] is None:
            continue
        nic_blocks = [b for b, s in doc["plan"]["blocks"].items() if s == "nic"]
        if nic_blocks:
            offloaded[rate] = doc
            # the partial plan needs fewer host cores than running it all on the host
            assert doc["host_cores"] < doc["baselines"]["all_host"], (rate, doc["host_cores"])
    if nic == "agilio" and nf.stem not in AGILIO_OFFLOADS:
        # no plan pays on this profile (the skewed-mix tests above cover these NFs)
        assert not offloaded, (nf.stem, sorted(offloaded))
        return
    assert offloaded, f"{nf.stem} on {nic}: no NIC blocks at any of {RATES} Mpps"


def test_agilio_runs_flowcount_whole_and_heavyhitters_sketch(capsys):
    doc = _plan(capsys, ROOT / "netfuncs" / "flowcount.nf", "agilio", "10")
    assert set(doc["plan"]["blocks"].values()) == {"nic"} and doc["host_cores"] == 0
    assert doc["plan"]["states"]["flows"]["stage"] == "nic"
    # heavyhitter on a Zipf mix: the count-min sketch (atomic adds) on the NIC
    program = compile_file(ROOT / "netfuncs" / "heavyhitter.nf")
    pb = Problem(program, load_model("agilio"), load_model("xdp"), load_model("user"),
                 profile_from_frames(program, zipf_frames(400, 1.1, 3000, seed=3)))
    res = solve_problem(pb, 10, None, time_limit_s=5, workers=1, explain=False)
    assert res.plan is not None and res.plan.state_place["sketch"][0][0] == "nic"
    assert 0 < res.host_cores < bl.all_host(pb, 10).host_cores


def test_figure_rows_give_value_source_and_kind():
    rows = {f: (v, src, measured) for f, v, src, measured in load_model("agilio").figure_rows()}
    assert rows["per_packet_ns"][0] == 600.0 and not rows["per_packet_ns"][2]
    assert rows["tiers.EMEM"][0] == (2147483648, 78.1)
    assert rows["opcode_cost_ns.atomic_add"][0] == 3.75
    assert "nfp" in rows["zero_init_atomic"][1]
    xdp = {f: measured for f, _, _, measured in load_model("xdp").figure_rows()}
    assert xdp["opcode_cost_ns.atomic_add"] and xdp["per_packet_ns"]


def test_mergeable_counters_are_only_added_to():
    from cora.compiler.offload.stage_model import mergeable_counters
    got = {nf.stem: mergeable_counters(compile_file(nf)) for nf in NETFUNCS}
    assert got["firewall"] == ["drops"] and got["lb"] == ["stats"]
    assert got["flowcount"] == []        # its inserts read presence (ref.found)
    assert got["heavyhitter"] == []      # the sketch is read by estimate()


def test_agilio_ends_firewalls_malformed_frames_with_its_own_drop_counter(capsys):
    """firewall's ``drops`` is only added to: the plan keeps a copy on the NIC (malformed
    frames dropped there) and one on the host (the later drop reasons), each an array of
    atomic counters on the Agilio, and needs fewer host cores than all-on-host."""
    doc = _plan(capsys, ROOT / "netfuncs" / "firewall.nf", "agilio", "10")
    stages = {r["stage"] for r in doc["plan"]["states"]["drops"]["replicas"]}
    assert stages == {"nic", "kernel"}, doc["plan"]["states"]["drops"]
    assert doc["plan"]["states"]["conns"]["stage"] == "kernel"      # lru_map, now()
    assert "nic" in doc["plan"]["blocks"].values()
    assert doc["host_cores"] < doc["baselines"]["all_host"]
