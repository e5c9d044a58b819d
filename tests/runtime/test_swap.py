"""Hot swap, in-place upgrade and state migration (cora.runtime.swap, cora.runtime.migrate).

The layout rules and the bytecode relocation are checked without a kernel; the rest runs
for real: flowcount deployed on a veth in a test namespace, the live-frames generator
sending from the peer namespace while programs are swapped, and the accounting after
(frames generated == frames the NF saw over every version; the flow table equal to the
reference interpreter's over the same frame sequence)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from cora.compiler import compile_file
from cora.runtime import pins
from cora.runtime.loader import relocate_maps
from cora.runtime.swap import LayoutMismatch, layout_difference, parse_conversions, plan_maps
from cora.targets.ebpf.maps import maps_metadata
from tests.runtime.cli_run import cora, one_line_error

REPO = Path(__file__).resolve().parents[2]
FLOWCOUNT = REPO / "netfuncs" / "flowcount.nf"
DEV = "veth0"
SOURCE = FLOWCOUNT.read_text()


def variant(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """flowcount with ``old`` replaced by ``new`` (a new version of the NF)."""
    assert old in SOURCE
    path = tmp_path / f"{name}.nf"
    path.write_text(SOURCE.replace(old, new))
    return path


COUNTS = "struct Counts { packets: u64, bytes: u64 }"


def _not_json(constant: str):
    raise AssertionError(f"{constant} is not JSON")


def layout(path: Path) -> list[dict]:
    return maps_metadata(compile_file(path))["maps"]


# --- layout rules (no kernel) ------------------------------------------------------------
def test_same_layout_keeps_every_map(tmp_path):
    new = variant(tmp_path, "v2", "pass;\n}", "if (udp.valid && udp.dport == 9) { drop; }\n"
                                                  "    pass;\n}")
    assert plan_maps(layout(FLOWCOUNT), layout(new)) == {"flows": "keep"}


@pytest.mark.parametrize("old,new,needs,phrase", [
    (COUNTS, "struct Counts { packets: u64, bytes: u64, syns: u32 }", {"add-field"},
     "value field syns added"),
    ("[65536]", "[131072]", {"resize"}, "max_entries 65536 -> 131072"),
    (COUNTS, "struct Counts { packets: u32, bytes: u64 }", {"none"},
     "value field packets narrowed from 64 to 32 bits"),
    ("map<Flow, Counts>[65536] on_full skip", "lru_map<Flow, Counts>[65536] on_full evict",
     {"none"}, "kind hash -> lru_hash"),
])
def test_layout_differences_are_named(tmp_path, old, new, needs, phrase):
    (entry_old,), (entry_new,) = layout(FLOWCOUNT), layout(variant(tmp_path, "v", old, new))
    diffs, got = layout_difference(entry_old, entry_new)
    assert got == needs and phrase in "; ".join(diffs)


def test_changed_layout_is_refused_naming_map_and_difference(tmp_path):
    new = layout(variant(tmp_path, "v", COUNTS,
                         "struct Counts { packets: u64, bytes: u64, syns: u32 }"))
    with pytest.raises(LayoutMismatch) as err:
        plan_maps(layout(FLOWCOUNT), new)
    msg = str(err.value)
    assert "map flows changed layout (value field syns added)" in msg
    assert "--drop-state flows" in msg and "--migrate flows=add-field" in msg
    assert "\n" not in msg
    assert plan_maps(layout(FLOWCOUNT), new, {"flows": "add-field"}) == {"flows": "convert"}
    assert plan_maps(layout(FLOWCOUNT), new, drop_state={"flows"}) == {"flows": "fresh"}
    with pytest.raises(LayoutMismatch, match="does not cover it"):
        plan_maps(layout(FLOWCOUNT), new, {"flows": "resize"})
    with pytest.raises(LayoutMismatch, match="not a map of both"):
        plan_maps(layout(FLOWCOUNT), new, drop_state={"nosuch"})


def test_a_narrowed_field_has_no_conversion(tmp_path):
    new = layout(variant(tmp_path, "v", COUNTS, "struct Counts { packets: u32, bytes: u64 }"))
    with pytest.raises(LayoutMismatch, match="no conversion covers this"):
        plan_maps(layout(FLOWCOUNT), new, {"flows": "widen"})


def test_conversion_names():
    assert parse_conversions("widen+resize") == {"widen", "resize"}
    with pytest.raises(LayoutMismatch, match="unknown conversion shrink"):
        parse_conversions("shrink")


def test_relocate_maps_rewrites_only_map_references():
    ld_map = bytes([0x18, 0x11, 0, 0]) + (7).to_bytes(4, "little")  # r1 = map fd 7
    second_half = bytes(8)
    ld_const = bytes([0x18, 0x01, 0, 0]) + (7).to_bytes(4, "little")  # r1 = 7 (a number)
    mov = bytes([0xB7, 0x00, 0, 0]) + (7).to_bytes(4, "little")  # r0 = 7
    insns = ld_map + second_half + ld_const + second_half + mov
    out = relocate_maps(insns, {7: 42})
    assert out[4:8] == (42).to_bytes(4, "little")
    assert out[16:] == insns[16:]


# --- the kernel --------------------------------------------------------------------------
@contextlib.contextmanager
def two_node_testbed():
    """gen <-> dut namespaces; whatever a failing test leaves of cora in dut is removed."""
    from cora.testbed.topology import two_node

    with two_node() as topo:
        ns = topo.ns("dut")
        try:
            yield topo.ns("gen"), ns
        finally:
            from cora.runtime.deploy import undeploy
            with contextlib.suppress(Exception):
                undeploy(DEV, ns)
            pins.unpin_all(pins.deployment_dir(DEV, ns))
            pins.remove_metadata(DEV, ns)
            pins.remove_journal(DEV, ns)


def flows(ns: str) -> list:
    from cora.runtime.deploy import read_stats

    return read_stats(DEV, ns)["maps"]["flows"]


def stats(ns: str) -> dict:
    from cora.runtime.deploy import read_stats

    return read_stats(DEV, ns)


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.slow
def test_swaps_and_a_migration_under_live_traffic_lose_nothing(bcc_module):
    """Five swaps, one of them a state migration (read-through into a new map), while the
    generator sends: every generated frame is counted once over the versions, and the flow
    table equals the interpreter's over the same frame sequence."""
    from cora.runtime.deploy import deploy
    from cora.runtime.migrate import move_state
    from cora.runtime.swap import swap_program
    from cora.testbed.live_traffic import (
        BackgroundTraffic,
        interpreter_state,
        wait_for_verdicts,
    )
    from cora.testbed.trafficgen import synthetic_flows

    program = compile_file(FLOWCOUNT)
    frames = synthetic_flows(40, seed=3) + synthetic_flows(20, proto="tcp", seed=4)
    with two_node_testbed() as (gen_ns, ns):
        deploy(program, DEV, ns)
        versions = []
        with BackgroundTraffic(DEV, gen_ns, frames, rate_pps=10_000) as traffic:
            for i in range(5):
                traffic.wait_generated((i + 1) * 2000)
                if i == 2:
                    source = pins.deployment_dir(DEV, ns) / "maps" / "flows"
                    rep = move_state(DEV, ns, program, {"flows": str(source)})
                    assert rep.swaps[0]["maps"] == {"flows": "read-through"}
                    assert rep.swaps[1]["maps"] == {"flows": "keep"}
                    versions += [s["new_prog_id"] for s in rep.swaps]
                else:
                    report = swap_program(DEV, ns, program)
                    assert report.maps == {"flows": "keep"}
                    versions.append(report.new_prog_id)
            traffic.wait_generated(traffic.gen.generated() + 2000)
            sent = traffic.stop()
            seen = wait_for_verdicts(DEV, ns, sent)
            sequence = traffic.sequence(sent)
        st = stats(ns)
        assert len(set(versions)) == 6 and st["prog_id"] == versions[-1] and st["attached"]
        assert seen == sent, f"{sent} frames generated, {seen} seen by the NF"
        assert st["verdicts"]["pass"] == sent
        assert st["maps"]["flows"] == interpreter_state(program, sequence)["maps"]["flows"]


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.slow
def test_replace_keeps_state_refuses_incompatible_and_survives_broken(bcc_module, tmp_path):
    """`cora deploy NEW.nf --replace`: a compatible upgrade keeps the flow table and the
    counters continue; an incompatible one is refused with one line naming the map and the
    difference and the old deployment runs on untouched; a broken NEW.nf leaves the old
    one running; `--migrate flows=add-field` converts the entries."""
    from cora.testbed.live_traffic import BackgroundTraffic, wait_for_verdicts
    from cora.testbed.trafficgen import synthetic_flows

    v2 = variant(tmp_path, "flowcount_v2", "pass;\n}",
                 "if (udp.valid && udp.dport == 9) { drop; }\n    pass;\n}")
    v3 = variant(tmp_path, "flowcount_v3", COUNTS,
                 "struct Counts { packets: u64, bytes: u64, syns: u32 }")
    broken = variant(tmp_path, "flowcount_broken", "pass;\n}", "pass\n}")
    frames = synthetic_flows(30, seed=5)
    with two_node_testbed() as (gen_ns, ns):
        cora("deploy", FLOWCOUNT, "--dev", DEV, "--netns", ns, check=True)
        with BackgroundTraffic(DEV, gen_ns, frames, rate_pps=20_000) as traffic:
            traffic.wait_generated(3000)
            sent = traffic.stop()
        assert wait_for_verdicts(DEV, ns, sent) == sent
        before = stats(ns)

        r = cora("deploy", v2, "--dev", DEV, "--netns", ns, "--replace", "--json", check=True)
        swap = json.loads(r.stdout, parse_constant=_not_json)["swap"]  # strict JSON
        assert swap["maps"] == {"flows": "keep"} and swap["old_prog_id"] == before["prog_id"]
        after = stats(ns)
        assert after["maps"] == before["maps"]  # entries identical
        assert after["verdicts"] == before["verdicts"]  # counters carried over
        assert after["nf"] == "flowcount_v2" and after["attached"]
        with BackgroundTraffic(DEV, gen_ns, frames, rate_pps=20_000) as traffic:
            traffic.wait_generated(3000)
            more = traffic.stop()
        assert wait_for_verdicts(DEV, ns, sent + more) == sent + more  # they continue
        running = stats(ns)

        err = one_line_error(cora("deploy", v3, "--dev", DEV, "--netns", ns, "--replace"))
        assert "map flows changed layout (value field syns added)" in err
        assert len(err.strip().splitlines()) == 1
        err = one_line_error(cora("deploy", broken, "--dev", DEV, "--netns", ns, "--replace"))
        assert "flowcount_broken.nf:" in err and "error" in err
        assert stats(ns) == running  # the old deployment, untouched
        assert not (pins.deployment_dir(DEV, ns) / "swap_new").exists()
        assert pins.read_journal(DEV, ns) is None

        r = cora("deploy", v3, "--dev", DEV, "--netns", ns, "--replace",
                 "--migrate", "flows=add-field", check=True)
        assert "flows: convert" in r.stdout
        converted = stats(ns)
        assert [e["key"] for e in converted["maps"]["flows"]] == \
            [e["key"] for e in running["maps"]["flows"]]
        assert [e["value"] for e in converted["maps"]["flows"]] == \
            [e["value"] + [0] for e in running["maps"]["flows"]]
        cora("undeploy", "--dev", DEV, "--netns", ns, check=True)


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.slow
def test_widening_upgrade_under_live_traffic_loses_no_update(bcc_module, tmp_path):
    """`--migrate flows=widen` while the generator sends: the converted table is taken over
    by read-through, so every packet is counted once, as the interpreter counts them."""
    from cora.runtime.deploy import deploy
    from cora.testbed.live_traffic import (
        BackgroundTraffic,
        interpreter_state,
        wait_for_verdicts,
    )
    from cora.testbed.trafficgen import synthetic_flows

    narrow = variant(tmp_path, "flowcount_narrow", COUNTS,
                     "struct Counts { packets: u32, bytes: u64 }")
    program = compile_file(FLOWCOUNT)
    frames = synthetic_flows(40, seed=7)
    with two_node_testbed() as (gen_ns, ns):
        deploy(compile_file(narrow), DEV, ns)
        with BackgroundTraffic(DEV, gen_ns, frames, rate_pps=10_000) as traffic:
            traffic.wait_generated(2000)
            meta = deploy(program, DEV, ns, replace=True, migrate={"flows": "widen"})
            assert meta["swap"]["maps"] == {"flows": "convert"}
            assert meta["swap"]["retired_by"]["maps"] == {"flows": "keep"}
            traffic.wait_generated(traffic.gen.generated() + 2000)
            sent = traffic.stop()
            seen = wait_for_verdicts(DEV, ns, sent)
            sequence = traffic.sequence(sent)
        assert seen == sent
        assert flows(ns) == interpreter_state(program, sequence)["maps"]["flows"]


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.slow
def test_failed_load_leaves_the_old_program(bcc_module, monkeypatch):
    """The new version fails to load (the verifier or the kernel refuses): the old program
    and its maps keep running, nothing staged is left, no journal."""
    from cora.errors import KernelError
    from cora.runtime import loader
    from cora.runtime.deploy import deploy
    from cora.runtime.swap import swap_program

    program = compile_file(FLOWCOUNT)
    with two_node_testbed() as (_gen_ns, ns):
        meta = deploy(program, DEV, ns)

        def refuse(*_args, **_kw):
            raise KernelError("the kernel verifier rejected the program (test)")

        monkeypatch.setattr(loader, "load_xdp", refuse)
        with pytest.raises(KernelError, match="verifier rejected"):
            swap_program(DEV, ns, program)
        st = stats(ns)
        assert st["attached"] and st["prog_id"] == meta["prog_id"]
        assert not (pins.deployment_dir(DEV, ns) / "swap_new").exists()
        assert pins.read_journal(DEV, ns) is None


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.slow
@pytest.mark.parametrize("step,committed", [("staged", False), ("replace", True)])
def test_swap_killed_mid_way_is_finished_or_undone(bcc_module, tmp_path, step, committed):
    """SIGKILL right after a swap step (the CORA_FAULT_AFTER_STEP hook): before the replace
    the old program stays and the staged pins go; after it the swap is finished."""
    from cora.runtime.attach import xdp_attached
    from cora.runtime.deploy import FAULT_ENV, deployment_status

    v2 = variant(tmp_path, "flowcount_v2", "pass;\n}",
                 "if (udp.valid && udp.dport == 9) { drop; }\n    pass;\n}")
    with two_node_testbed() as (_gen_ns, ns):
        cora("deploy", FLOWCOUNT, "--dev", DEV, "--netns", ns, check=True)
        old = stats(ns)["prog_id"]
        os.environ[FAULT_ENV] = f"swap:{step}"
        try:
            r = cora("deploy", v2, "--dev", DEV, "--netns", ns, "--replace")
        finally:
            del os.environ[FAULT_ENV]
        assert r.returncode == -9, r.stderr[-2000:]
        assert deployment_status(DEV, ns) == "partial-swap"
        err = one_line_error(cora("stats", "--dev", DEV, "--netns", ns))
        assert "interrupted hot swap" in err
        running = xdp_attached(DEV, ns)
        assert (running != old) == committed
        cora("deploy", v2, "--dev", DEV, "--netns", ns, "--replace", check=True)
        st = stats(ns)
        assert st["attached"] and st["nf"] == "flowcount_v2"
        assert not (pins.deployment_dir(DEV, ns) / "swap_new").exists()
        cora("undeploy", "--dev", DEV, "--netns", ns, check=True)


@pytest.mark.kernel
@pytest.mark.slow
def test_tc_program_is_replaced_in_place(bcc_module):
    """A cls_bpf filter's program is replaced on the same handle and priority."""
    from cora.runtime.attach import tc_attached, tc_filters
    from cora.runtime.engine import KernelEngine
    from cora.runtime.swap import replace_tc
    from cora.testbed.topology import two_node

    nf = REPO / "tests" / "targets" / "nf" / "tc_verdicts.nf"
    program = compile_file(nf)
    with two_node() as topo, \
            KernelEngine(program, target="tc") as first, \
            KernelEngine(program, target="tc") as second:
        ns = topo.ns("dut")
        with tc_attached(first.loaded.prog_fd, DEV, ns) as att:
            before = tc_filters(DEV, ns)
            replace_tc(second.loaded.prog_fd, att)
            assert tc_filters(DEV, ns) == before  # same priority and name, one filter
            from cora.runtime.bpf_syscall import prog_info
            shown = subprocess.run(["tc", "-n", ns, "filter", "show", "dev", DEV, "ingress"],
                                   capture_output=True, text=True, check=True).stdout
            ids = [int(w) for w in re.findall(r" id (\d+)", shown)]
            assert ids == [prog_info(second.loaded.prog_fd).id]


# --- compile ahead: preparations that touch nothing ----------------------------------------
def _bpffs_listing(ns: str) -> list[str]:
    d = pins.deployment_dir(DEV, ns)
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def _program_gone(prog_id: int) -> bool:
    from cora.errors import KernelError
    from cora.runtime.bpf_syscall import prog_get_fd_by_id

    try:
        os.close(prog_get_fd_by_id(prog_id))
    except KernelError:
        return True
    return False


def _wait_gone(prog_ids: list[int]) -> None:
    """Poll (deadline 10 s) until the kernel has freed every program of ``prog_ids`` (a
    program goes once no fd, pin or hook holds it, after an RCU grace period)."""
    import time

    deadline = time.monotonic() + 10
    while not all(_program_gone(i) for i in prog_ids):
        assert time.monotonic() < deadline, \
            f"programs still loaded: {[i for i in prog_ids if not _program_gone(i)]}"
        time.sleep(0.05)


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.slow
def test_prepared_swaps_side_by_side_touch_nothing_and_a_stale_one_is_refused(
        bcc_module, tmp_path):
    """Two swaps and a state move (read-through + retire versions) prepared side by side
    against a running deployment: nothing pinned, journaled or locked, the program running
    unchanged. One commits; the others were prepared against the deployment that was, so
    their commit is refused (StalePreparation) with nothing changed. Closing them unloads
    every program they loaded; a preparation that fails leaves nothing either."""
    from cora.runtime.deploy import deploy, deployment_status
    from cora.runtime.migrate import PreparedMove
    from cora.runtime.swap import StalePreparation, prepare_swap

    program = compile_file(FLOWCOUNT)
    v2 = compile_file(variant(tmp_path, "flowcount_v2", "pass;\n}",
                              "if (udp.valid && udp.dport == 9) { drop; }\n    pass;\n}"))
    with two_node_testbed() as (_gen_ns, ns):
        meta = deploy(program, DEV, ns)
        before = _bpffs_listing(ns)
        source = pins.deployment_dir(DEV, ns) / "maps" / "flows"
        with prepare_swap(DEV, ns, v2) as a, prepare_swap(DEV, ns, program) as b, \
                PreparedMove(DEV, ns, program, {"flows": str(source)}) as m:
            assert m.first is not None and m.second is not None
            ids = [a.new_id, m.first.new_id, m.second.new_id]
            assert len({*ids, b.new_id, meta["prog_id"]}) == 5
            assert _bpffs_listing(ns) == before
            assert pins.read_journal(DEV, ns) is None and not pins.lock_held(DEV, ns)
            assert deployment_status(DEV, ns) == "complete"
            assert stats(ns)["prog_id"] == meta["prog_id"]
            rep = b.commit()
            assert rep.commit_ns > 0 and stats(ns)["prog_id"] == b.new_id
            for stale in (a, m):
                with pytest.raises(StalePreparation, match="prepare it again"):
                    stale.commit()
            assert stats(ns)["prog_id"] == b.new_id
            assert pins.read_journal(DEV, ns) is None
            assert not (pins.deployment_dir(DEV, ns) / "swap_new").exists()
        _wait_gone(ids)
        after = _bpffs_listing(ns)
        with pytest.raises(Exception, match="nope"):
            PreparedMove(DEV, ns, program, {"flows": str(source.with_name("nope"))})
        assert _bpffs_listing(ns) == after and pins.read_journal(DEV, ns) is None


_PREPARER = """
import sys, time
from cora.compiler import compile_file
from cora.runtime.migrate import PreparedMove
from cora.runtime.swap import prepare_swap

program = compile_file(sys.argv[1])
dev, ns, source = sys.argv[2:5]
a = prepare_swap(dev, ns, program)
print(a.new_id, flush=True)
m = PreparedMove(dev, ns, program, {"flows": source})
print(m.first.new_id, m.second.new_id, flush=True)
time.sleep(600)
"""


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.slow
@pytest.mark.parametrize("when", ["mid-preparation", "prepared"])
def test_a_preparer_killed_leaves_nothing_behind(bcc_module, when):
    """SIGKILL of a process that prepares swaps (as the daemon does ahead of adoption),
    while it is compiling the next one or once everything is prepared: the deployment's pins
    are exactly as before, no journal, no lock, the running program unchanged, every program
    it loaded freed by the kernel, and the next swap goes ahead."""
    import sys

    from cora.runtime.deploy import deploy, deployment_status
    from cora.runtime.swap import swap_program

    program = compile_file(FLOWCOUNT)
    with two_node_testbed() as (_gen_ns, ns):
        meta = deploy(program, DEV, ns)
        before = _bpffs_listing(ns)
        source = pins.deployment_dir(DEV, ns) / "maps" / "flows"
        proc = subprocess.Popen([sys.executable, "-c", _PREPARER, str(FLOWCOUNT), DEV, ns,
                                 str(source)], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            ids = [int(x) for x in proc.stdout.readline().split()]
            if when == "prepared":
                ids += [int(x) for x in proc.stdout.readline().split()]
                assert len(ids) == 3
        finally:
            proc.kill()
            proc.wait()
        assert ids, "the preparer printed no program id"
        _wait_gone(ids)
        assert _bpffs_listing(ns) == before
        assert pins.read_journal(DEV, ns) is None and not pins.lock_held(DEV, ns)
        assert deployment_status(DEV, ns) == "complete"
        assert stats(ns)["prog_id"] == meta["prog_id"]
        rep = swap_program(DEV, ns, program)
        assert stats(ns)["prog_id"] == rep.new_prog_id != meta["prog_id"]
