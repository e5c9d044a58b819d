"""Targets own their hook: XDP and TC are peers behind one Target interface (program type,
load flags, test-run frame rules, verdict decoding, refused ops, attach/detach), and the one
eBPF emitter takes everything hook-specific from the hook object."""

from __future__ import annotations

from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.errors import CoraError
from cora.targets import get_target, target_names
from cora.targets.base import Target
from cora.targets.tc import TcTarget
from cora.targets.tc.attach import TcAttachment
from cora.targets.tc.hook import TcHook
from cora.targets.xdp import XdpTarget
from cora.targets.xdp.attach import XdpAttachment
from cora.targets.xdp.hook import XdpHook

ROOT = Path(__file__).resolve().parents[2]
NFS = sorted((ROOT / "netfuncs").glob("*.nf")) + sorted((ROOT / "tests/targets/nf").glob("*.nf"))


def test_targets_are_peers():
    assert target_names() == ["tc", "xdp"]
    assert not issubclass(TcTarget, XdpTarget) and not issubclass(XdpTarget, TcTarget)
    assert not issubclass(TcHook, XdpHook) and not issubclass(XdpHook, TcHook)
    assert (XdpTarget.prog_type, TcTarget.prog_type) == (6, 3)  # enum bpf_prog_type
    with pytest.raises(CoraError, match="unknown target 'agilio'"):
        get_target("agilio")


#: multicast.nf: the tc target refuses multicast (test_multicast.py checks the refusal)
@pytest.mark.parametrize("nf", [p for p in NFS if p.stem != "multicast"], ids=lambda p: p.stem)
def test_tc_code_has_nothing_of_xdp(nf):
    c_text = get_target("tc").generate(compile_file(nf), inject_env=True,
                                       count_verdicts=True).files["prog.c"]
    assert "xdp" not in c_text.lower()
    assert "int cora_tc(struct __sk_buff *ctx)" in c_text
    xdp_c = get_target("xdp").generate(compile_file(nf)).files["prog.c"]
    assert "int cora_xdp(struct xdp_md *ctx)" in xdp_c and "__sk_buff" not in xdp_c


def test_options_belong_to_their_target():
    program = compile_file(ROOT / "tests/targets/nf/tc_verdicts.nf")
    with pytest.raises(CoraError, match="tc target has no option frags"):
        get_target("tc").generate(program, frags=True)
    with pytest.raises(CoraError, match="xdp target has no option direction"):
        get_target("xdp").generate(program, direction="egress")
    xdp = get_target("xdp")
    assert xdp.load_flags(xdp.generate(program)) == 1 << 5  # BPF_F_XDP_HAS_FRAGS
    assert xdp.load_flags(xdp.generate(program, frags=False)) == 0
    assert get_target("tc").load_flags(get_target("tc").generate(program)) == 0


def test_verdict_decoding():
    never = lambda: pytest.fail("an unambiguous code asked for the counters")  # noqa: E731
    xdp, tc = XdpTarget(), TcTarget()
    assert [xdp.decode_verdict(c, never) for c in range(6)] == \
        ["aborted", "drop", "pass", "tx", "redirect", "aborted"]
    assert not xdp.verdicts_need_counters and tc.verdicts_need_counters
    assert [tc.decode_verdict(c, never) for c in (0, 2, 1, 3, 6)] == \
        ["pass", "drop", "aborted", "aborted", "aborted"]
    assert tc.decode_verdict(7, lambda: True) == "tx"
    assert tc.decode_verdict(7, lambda: False) == "redirect"


def test_test_run_frame_rules():
    eth_ipv4 = bytes(12) + b"\x08\x00"
    xdp, tc = XdpTarget(), TcTarget()
    assert (xdp.max_test_frame_bytes, tc.max_test_frame_bytes) == (73152, 3712)
    for target in (xdp, tc):
        assert not target.test_run_accepts(bytes(13))
        assert target.test_run_accepts(bytes(14))
        assert target.test_run_accepts(bytes(target.max_test_frame_bytes))
        assert not target.test_run_accepts(bytes(target.max_test_frame_bytes + 1))
    assert xdp.test_run_accepts(eth_ipv4) and not tc.test_run_accepts(eth_ipv4 + bytes(19))
    assert tc.test_run_accepts(eth_ipv4 + bytes(20))


def test_refused_ops_have_reasons():
    assert XdpTarget.refused_ops == {}
    assert set(TcTarget.refused_ops) == {"shim.push", "shim.pop", "mcast"}
    assert all("bpf_xdp_adjust_head" in TcTarget.refused_ops[op] for op in ("shim.push",
                                                                          "shim.pop"))
    assert "bpf_redirect_map" in TcTarget.refused_ops["mcast"]


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.parametrize("name", ["xdp", "tc"])
def test_attach_and_detach_through_the_target(name, bcc_module):
    from cora.runtime.attach import tc_filters, xdp_attached
    from cora.runtime.loader import load_program
    from cora.testbed.topology import two_node

    target: Target = get_target(name)
    program = compile_file(ROOT / "tests/targets/nf/tc_verdicts.nf")
    with two_node() as topo, load_program(target.generate(program), target) as loaded:
        link = topo.links[0]
        ifname, netns = link.b.ifname, link.b.netns
        att = target.attach(loaded.prog_fd, ifname, netns)
        try:
            assert (att.ifname, att.netns) == (ifname, netns)
            if isinstance(att, XdpAttachment):
                assert xdp_attached(ifname, netns) == att.prog_id
            else:
                assert isinstance(att, TcAttachment)
                assert tc_filters(ifname, netns) == [(att.prio, att.name)]
        finally:
            assert target.detach(att) is True
        assert target.detach(att) is False
        if name == "xdp":
            assert xdp_attached(ifname, netns) is None
        else:
            assert tc_filters(ifname, netns) == []
