"""Namespaces and veth pairs are made for real and always removed."""

from __future__ import annotations

import os
import socket

import pytest
from pyroute2 import IPRoute, netns

from cora.errors import EnvironmentProblem
from cora.testbed.topology import Topology, cleanup_stale, in_netns, ipr, two_node

pytestmark = pytest.mark.netns


def root_links_with_alias(prefix):
    with IPRoute() as ip:
        return [link.get_attr("IFLA_IFNAME") for link in ip.get_links()
                if (link.get_attr("IFLA_IFALIAS") or "").startswith(prefix)]


def test_two_node_pings_and_cleans_up():
    with two_node() as topo:
        gen, dut = topo.ns("gen"), topo.ns("dut")
        assert set(topo.namespaces) == {gen, dut} <= set(netns.listnetns())
        link = topo.links[0]
        assert (link.a.netns, link.b.netns) == (gen, dut)
        assert link.a.address == "10.211.0.1/30" and link.b.address == "10.211.0.2/30"
        # real traffic across the pair: a UDP datagram from gen to dut (a socket stays in
        # the namespace it was created in)
        with in_netns(dut):
            rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with in_netns(gen):
            tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with rx, tx:
            rx.bind((link.b.ip, 0))
            rx.settimeout(5)
            tx.sendto(b"hello cora", (link.b.ip, rx.getsockname()[1]))
            data, (src, _) = rx.recvfrom(100)
        assert (data, src) == (b"hello cora", link.a.ip)
    assert gen not in netns.listnetns() and dut not in netns.listnetns()


def test_cleanup_after_exception_in_block():
    prefix = None
    with pytest.raises(RuntimeError, match="boom"):
        with Topology() as topo:
            prefix = topo.prefix
            topo.add_namespace("a")
            topo.add_namespace("b")
            topo.add_link("a", None, mtu=1400)
            topo.add_link("a", "b")
            assert len(root_links_with_alias(prefix)) == 1
            raise RuntimeError("boom")
    assert not [n for n in netns.listnetns() if n.startswith(prefix)]
    assert root_links_with_alias(prefix) == []


def test_root_endpoint_mtu_and_addresses():
    with Topology(subnet="10.212.0.0/24") as topo:
        topo.add_namespace("x")
        link = topo.add_link(None, "x", mtu=1280)
        assert link.a.netns is None and link.b.netns == topo.ns("x")
        assert link.a.address == "10.212.0.1/30" and link.b.address == "10.212.0.2/30"
        assert len(link.a.ifname) <= 15
        with IPRoute() as ip:
            idx = ip.link_lookup(ifname=link.a.ifname)[0]
            assert ip.get_links(idx)[0].get_attr("IFLA_MTU") == 1280
        with ipr(topo.ns("x")) as ip:
            idx = ip.link_lookup(ifname=link.b.ifname)[0]
            assert ip.get_links(idx)[0].get_attr("IFLA_MTU") == 1280
            assert ip.get_links(idx)[0].get_attr("IFLA_OPERSTATE") in ("UP", "LOWERLAYERDOWN",
                                                                        "UNKNOWN")
        name = link.a.ifname
    with IPRoute() as ip:
        assert ip.link_lookup(ifname=name) == []


def test_in_netns_enters_and_restores():
    before = os.readlink("/proc/thread-self/ns/net")
    with two_node() as topo:
        with in_netns(topo.ns("gen")):
            assert os.readlink("/proc/thread-self/ns/net") != before
            assert "veth0" in [name for _, name in socket.if_nameindex()]
        assert os.readlink("/proc/thread-self/ns/net") == before
        with pytest.raises(ZeroDivisionError):
            with in_netns(topo.ns("dut")):
                raise ZeroDivisionError
        assert os.readlink("/proc/thread-self/ns/net") == before
    with pytest.raises(EnvironmentProblem, match="no network namespace"):
        with in_netns("cora-does-not-exist"):
            pass
    assert "cora-does-not-exist" not in netns.listnetns()


def test_cleanup_stale_removes_dead_runs_only():
    # a "dead run": pid 2**22+1 cannot exist (pid_max <= 4194304)
    dead = Topology(prefix=f"cora-{2**22 + 1}-beef-")
    dead.add_namespace("n")
    dead.add_link("n", None)
    live = Topology()
    live.add_namespace("n")
    try:
        removed = cleanup_stale()
        assert f"netns:{dead.ns('n')}" in removed
        assert any(r.startswith("link:") for r in removed)
        assert dead.ns("n") not in netns.listnetns()
        assert root_links_with_alias(dead.prefix) == []
        assert live.ns("n") in netns.listnetns()
    finally:
        dead.close()
        live.close()
    assert live.ns("n") not in netns.listnetns()


def test_duplicate_namespace_is_clear_error():
    with Topology() as topo:
        topo.add_namespace("a")
        with pytest.raises(EnvironmentProblem, match="exists already"):
            topo.add_namespace("a")
