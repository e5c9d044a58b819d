"""The tc target attached for real: clsact + cls_bpf direct-action on the ingress of a veth
in a test namespace; UDP datagrams sent from a socket in the other namespace go through it
(the program counts them and drops what it should: a UDP socket behind it receives only the
passed datagrams), and detaching removes the filter and the qdisc it added.

(The live-frames generator is not used: its XDP_TX frames only enter a veth whose peer runs
an XDP program or has NAPI on, and the point here is traffic that meets tc first.)"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.errors import KernelError
from cora.runtime.attach import attach_tc, detach_tc, tc_attached, tc_filters
from cora.runtime.engine import KernelEngine
from cora.testbed.topology import in_netns, ipr, two_node

pytestmark = [pytest.mark.kernel, pytest.mark.slow]
NF = Path(__file__).resolve().parents[1] / "targets" / "nf" / "tc_verdicts.nf"
PASS_PORT, DROP_PORT = 9, 1  # tc_verdicts.nf: UDP dport 1 drops, other ports pass


def _send(sender, link, dport: int, n: int) -> None:
    for i in range(n):
        sender.sendto(f"cora-{dport}-{i}".encode(), (link.b.ip, dport))


def _drain(sock) -> list[bytes]:
    got = []
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            got.append(sock.recv(2048))
            deadline = time.monotonic() + 0.3
        except BlockingIOError:
            time.sleep(0.02)
    return got


def _seen(kernel, port: int) -> int:
    value = kernel.lookup("seen", (port,))
    return value[0] if value else 0


def test_traffic_passes_through_the_tc_program(bcc_module):
    program = compile_file(NF)
    with two_node() as topo, KernelEngine(program, target="tc") as kernel:
        link = topo.links[0]
        dut = link.b.netns
        socks = {}
        with in_netns(dut):
            for port in (PASS_PORT, DROP_PORT):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((link.b.ip, port))
                s.setblocking(False)
                socks[port] = s
        with in_netns(link.a.netns):
            sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        socks["sender"] = sender
        try:
            # ARP first, with nothing attached, so the counts below are the datagrams only: the
            # warm-up datagram's arrival (polled with a deadline) shows ARP has resolved
            with in_netns(dut):
                warm = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                warm.bind((link.b.ip, PASS_PORT + 1))
                warm.setblocking(False)
            socks["warm"] = warm
            _send(sender, link, PASS_PORT + 1, 1)
            assert len(_drain(warm)) == 1, "the warm-up datagram never arrived"
            with tc_attached(kernel.loaded.prog_fd, link.b.ifname, dut) as att:
                assert tc_filters(link.b.ifname, dut) == [(att.prio, att.name)]
                assert att.created_clsact
                _send(sender, link, PASS_PORT, 20)
                _send(sender, link, DROP_PORT, 20)
                passed, dropped = _drain(socks[PASS_PORT]), _drain(socks[DROP_PORT])
                deadline = time.monotonic() + 5.0     # map updates, polled with a deadline
                while (_seen(kernel, PASS_PORT) < 20 or _seen(kernel, DROP_PORT) < 20) \
                        and time.monotonic() < deadline:
                    time.sleep(0.02)
                # the program saw every frame (its map counts them) ...
                assert _seen(kernel, PASS_PORT) == 20 and _seen(kernel, DROP_PORT) == 20
                # ... and its verdict held: passed datagrams arrive, dropped ones do not
                assert len(passed) == 20 and dropped == []
                with pytest.raises(KernelError, match="priority"):
                    attach_tc(kernel.loaded.prog_fd, link.b.ifname, dut, prio=att.prio)
            assert tc_filters(link.b.ifname, dut) == []
            with ipr(dut) as ip:  # the clsact qdisc the attach added is gone too
                index = ip.link_lookup(ifname=link.b.ifname)[0]
                assert [q.get_attr("TCA_KIND") for q in ip.get_qdiscs(index=index)
                        if q.get_attr("TCA_KIND") == "clsact"] == []
            assert detach_tc(att) is False  # already gone
            # detached: the same frames now reach the socket and are no longer counted
            _send(sender, link, DROP_PORT, 5)
            assert len(_drain(socks[DROP_PORT])) == 5
            assert _seen(kernel, DROP_PORT) == 20
        finally:
            for s in socks.values():
                s.close()
