"""XDP attach/detach inside a namespace, and pinned deployments in bpffs."""

from __future__ import annotations

import json
import os
import struct

import pytest

from cora.errors import EnvironmentProblem, KernelError
from cora.runtime import bpf_syscall as bs
from cora.runtime import pins
from cora.runtime.attach import attach_xdp, attached, detach_xdp, xdp_attached, xdp_attached_mode
from cora.testbed.topology import in_netns, two_node

SRC = r"""
#include <uapi/linux/bpf.h>
BPF_ARRAY(hits, u64, 1);
BPF_HASH(misc, u32, u32, 4);
int count_pass(struct xdp_md *ctx) {
    u32 z = 0;
    u64 *n = hits.lookup(&z);
    if (n)
        __sync_fetch_and_add(n, 1);
    return XDP_PASS;
}
"""


@pytest.fixture(scope="module")
def prog(bcc_module):
    b = bcc_module.BPF(text=SRC)
    fn = b.load_func("count_pass", bcc_module.BPF.XDP)
    try:
        yield b, fn.fd
    finally:
        b.cleanup()


@pytest.fixture
def topo():
    with two_node() as t:
        yield t


@pytest.mark.netns
@pytest.mark.parametrize("mode", ["native", "generic"])
def test_attach_detach_in_namespace(prog, topo, mode):
    b, fd = prog
    dut = topo.ns("dut")
    want_id = bs.prog_info(fd).id
    assert xdp_attached("veth0", dut) is None
    prog_id = attach_xdp(fd, "veth0", dut, mode=mode)
    try:
        assert prog_id == want_id == xdp_attached("veth0", dut)
        assert xdp_attached_mode("veth0", dut) == mode
        assert xdp_attached("veth0", topo.ns("gen")) is None  # only where we attached
        with pytest.raises(KernelError, match="attached already"):
            attach_xdp(fd, "veth0", dut, mode=mode)
        # traffic really goes through it: a datagram gen -> dut is counted
        import socket
        link = topo.links[0]
        with in_netns(dut):
            rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with in_netns(topo.ns("gen")):
            tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        before = b["hits"][0].value
        with rx, tx:
            rx.bind((link.b.ip, 0))
            rx.settimeout(5)
            tx.sendto(b"x", (link.b.ip, rx.getsockname()[1]))
            rx.recvfrom(10)
        assert b["hits"][0].value > before
    finally:
        assert detach_xdp("veth0", dut) is True
    assert xdp_attached("veth0", dut) is None
    assert detach_xdp("veth0", dut) is False


@pytest.mark.netns
def test_attached_context_manager_detaches_on_error(prog, topo):
    _, fd = prog
    dut = topo.ns("dut")
    with pytest.raises(RuntimeError):
        with attached(fd, "veth0", dut) as prog_id:
            assert xdp_attached("veth0", dut) == prog_id
            raise RuntimeError("boom")
    assert xdp_attached("veth0", dut) is None


@pytest.mark.netns
def test_detach_leaves_someone_elses_program(prog, topo):
    _, fd = prog
    dut = topo.ns("dut")
    prog_id = attach_xdp(fd, "veth0", dut)
    try:
        assert detach_xdp("veth0", dut, prog_id=prog_id + 100000) is False
        assert xdp_attached("veth0", dut) == prog_id
    finally:
        detach_xdp("veth0", dut)


@pytest.mark.netns
def test_missing_interface_and_namespace_are_clear(prog, topo):
    _, fd = prog
    with pytest.raises(EnvironmentProblem, match=r"no interface eth9 in namespace "
                                                 rf"{topo.ns('dut')}: check `ip -n "):
        attach_xdp(fd, "eth9", topo.ns("dut"))
    with pytest.raises(EnvironmentProblem, match="no network namespace cora-nope-x"):
        xdp_attached("veth0", "cora-nope-x")
    assert "cora-nope-x" not in os.listdir("/run/netns")
    with pytest.raises(EnvironmentProblem, match="no interface eth9: check `ip link`|"
                                                 "no interface eth9 in the root"):
        xdp_attached("eth9")
    assert detach_xdp("eth9", topo.ns("dut")) is False  # teardown paths tolerate it
    with pytest.raises(EnvironmentProblem, match="unknown XDP mode"):
        attach_xdp(fd, "veth0", topo.ns("dut"), mode="turbo")


def _test_dir(tag: str) -> str:
    return f"cora-test-{os.getpid()}-{tag}"


@pytest.mark.kernel
def test_pin_round_trip_leaves_nothing(prog):
    b, fd = prog
    pins.ensure_bpffs()
    assert pins.bpffs_mounted()
    ifname = _test_dir("if")[:15]
    ns = _test_dir("ns")
    directory = pins.deployment_dir(ifname, ns)
    assert str(directory) == f"/sys/fs/bpf/cora/{ns}/{ifname}"
    maps = {"hits": b["hits"].map_fd, "misc": b["misc"].map_fd}
    try:
        pins.pin(directory, fd, maps)
        assert sorted(os.listdir(directory / "maps")) == ["hits", "misc"]
        with pytest.raises(EnvironmentProblem, match="already"):
            pins.pin(directory, fd, maps)
        bs.map_update(b["misc"].map_fd, struct.pack("<I", 5), struct.pack("<I", 55))
        with pins.open_pinned(directory) as p:
            assert bs.prog_info(p.prog_fd).id == bs.prog_info(fd).id
            assert set(p.maps) == {"hits", "misc"}
            assert bs.map_lookup(p.maps["misc"], struct.pack("<I", 5), 4) == \
                struct.pack("<I", 55)
        meta = {"nf": "x.nf", "prog_id": bs.prog_info(fd).id, "maps": sorted(maps)}
        path = pins.write_metadata(ifname, ns, meta)
        assert str(path) == f"/run/cora/{ns}/{ifname}.json"
        assert pins.read_metadata(ifname, ns) == meta
        assert json.loads(path.read_text()) == meta
        assert (ns, ifname) in pins.list_deployments()
    finally:
        removed = pins.unpin_all(directory)
        pins.remove_metadata(ifname, ns)
    assert str(directory / "prog") in removed
    assert not directory.exists() and not directory.parent.exists()
    assert pins.PIN_ROOT.exists()
    assert pins.read_metadata(ifname, ns) is None
    assert not (pins.META_ROOT / ns).exists()
    assert pins.unpin_all(directory) == []  # tolerant of nothing there
    with pytest.raises(EnvironmentProblem, match="no deployment pinned"):
        pins.open_pinned(directory)


@pytest.mark.kernel
def test_partial_state_and_failed_pin_clean_up(prog):
    b, fd = prog
    directory = pins.deployment_dir(_test_dir("p")[:15], None)
    try:
        # a map name the kernel cannot pin (too long a path component is fine; use a bad fd)
        with pytest.raises(KernelError):
            pins.pin(directory, fd, {"hits": b["hits"].map_fd, "bad": 987654})
        assert not directory.exists()  # the program pin made before the failure is gone
        os.makedirs(directory / "maps")
        bs.obj_pin(b["hits"].map_fd, str(directory / "maps" / "hits"))  # half a deployment
        assert len(pins.unpin_all(directory)) == 3
        assert not directory.exists()
    finally:
        pins.unpin_all(directory)


def test_reserved_and_bad_names():
    with pytest.raises(EnvironmentProblem, match="clashes"):
        pins.deployment_dir("veth0", "root")
    with pytest.raises(EnvironmentProblem, match="bad interface name"):
        pins.metadata_path("../x", None)
    assert str(pins.deployment_dir("veth0")) == "/sys/fs/bpf/cora/root/veth0"


@pytest.mark.kernel
def test_unreadable_metadata_is_clear():
    ifname = _test_dir("m")[:15]
    path = pins.metadata_path(ifname, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.write_text("{not json")
        with pytest.raises(EnvironmentProblem, match="unreadable"):
            pins.read_metadata(ifname)
    finally:
        pins.remove_metadata(ifname)


@pytest.mark.kernel
def test_ensure_bpffs_mounts_when_missing():
    # In a child process with its own, private mount namespace: unmount bpffs there (the
    # machine's mount is untouched) and let ensure_bpffs mount it again.
    import subprocess
    import sys
    script = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, MS_REC, MS_PRIVATE, MNT_DETACH = 0x00020000, 0x4000, 0x40000, 2
assert libc.unshare(CLONE_NEWNS) == 0, os.strerror(ctypes.get_errno())
assert libc.mount(None, b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None) == 0
from cora.runtime import pins
while pins.bpffs_mounted():
    assert libc.umount2(b"/sys/fs/bpf", MNT_DETACH) == 0, os.strerror(ctypes.get_errno())
assert not pins.bpffs_mounted()
pins.ensure_bpffs()
assert pins.bpffs_mounted()
print("remounted")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "remounted", out.stderr
    assert pins.bpffs_mounted()  # ours, in the test's namespace, is still there
