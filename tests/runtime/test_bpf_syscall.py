"""The bpf(2) wrapper against real maps and programs loaded by bcc."""

from __future__ import annotations

import ctypes
import os
import struct
import uuid

import pytest

from cora.errors import KernelError
from cora.runtime import bpf_syscall as bs

pytestmark = pytest.mark.kernel

SRC = r"""
#include <uapi/linux/bpf.h>
#include <linux/if_ether.h>
BPF_HASH(bylen, u32, u64, 8);
BPF_PERCPU_ARRAY(pcpu, u64, 4);

int verdict(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return XDP_ABORTED;
    u32 len = end - data;
    u64 one = 1, *v = bylen.lookup(&len);
    if (v)
        __sync_fetch_and_add(v, 1);
    else
        bylen.update(&len, &one);
    u32 z = 0;
    u64 *c = pcpu.lookup(&z);
    if (c)
        *c += len;
    u16 proto = eth->h_proto;
    if (proto == htons(0x88b5))
        return XDP_DROP;
    if (proto == htons(0x88b6)) {           /* swap MACs and bounce */
        u8 tmp[6];
        __builtin_memcpy(tmp, eth->h_dest, 6);
        __builtin_memcpy(eth->h_dest, eth->h_source, 6);
        __builtin_memcpy(eth->h_source, tmp, 6);
        return XDP_TX;
    }
    if (proto == htons(0x88b7)) {           /* grow the frame by 4 bytes at the front */
        if (bpf_xdp_adjust_head(ctx, -4))
            return XDP_ABORTED;
        return XDP_PASS;
    }
    return XDP_PASS;
}
"""


@pytest.fixture(scope="module")
def loaded(bcc_module):
    b = bcc_module.BPF(text=SRC)
    fn = b.load_func("verdict", bcc_module.BPF.XDP)
    try:
        yield b, fn.fd
    finally:
        b.cleanup()


def frame(ethertype: int, size: int = 60) -> bytes:
    dst, src = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
    return (dst + src + struct.pack("!H", ethertype)).ljust(size, b"\xab")


def test_verdicts_and_output(loaded):
    _, fd = loaded
    assert bs.prog_test_run(fd, frame(0x0800)).retval == bs.XDP_PASS
    assert bs.prog_test_run(fd, frame(0x88B5)).retval == bs.XDP_DROP
    r = bs.prog_test_run(fd, frame(0x88B6))
    assert r.retval == bs.XDP_TX
    assert r.data_out[:12] == bytes.fromhex("020000000002" "020000000001")
    assert r.data_out[12:] == frame(0x88B6)[12:]
    grown = bs.prog_test_run(fd, frame(0x88B7, 64))
    assert grown.retval == bs.XDP_PASS
    assert len(grown.data_out) == 68 and grown.data_out[4:] == frame(0x88B7, 64)


def test_repeat_reports_duration_and_updates_state(loaded):
    b, fd = loaded
    key = ctypes.c_uint32(333)
    before = b["bylen"][key].value if key in b["bylen"] else 0
    r = bs.prog_test_run(fd, frame(0x0800, 333), repeat=1000)
    assert r.retval == bs.XDP_PASS
    assert r.duration_ns > 0
    assert b["bylen"][key].value == before + 1000


def test_short_frame_and_bad_fd_are_clear_errors(loaded):
    _, fd = loaded
    with pytest.raises(KernelError, match="at least 14 bytes"):
        bs.prog_test_run(fd, b"\x00" * 10)
    with pytest.raises(KernelError, match="EBADF|EINVAL"):
        bs.prog_test_run(9999, frame(0x0800))


def test_map_reads_match_bcc(loaded):
    b, fd = loaded
    for size in (60, 61, 62, 61):
        bs.prog_test_run(fd, frame(0x0800, size))
    mfd = b["bylen"].map_fd
    ours = {struct.unpack("<I", k)[0]: struct.unpack("<Q", v)[0]
            for k, v in bs.map_items(mfd, 4, 8)}
    theirs = {k.value: v.value for k, v in b["bylen"].items()}
    assert ours == theirs and ours[61] >= 2
    assert bs.map_lookup(mfd, struct.pack("<I", 61), 8) == struct.pack("<Q", theirs[61])
    assert bs.map_lookup(mfd, struct.pack("<I", 7), 8) is None


def test_map_update_delete_next_key(loaded):
    b, _ = loaded
    mfd = b["bylen"].map_fd
    k = struct.pack("<I", 4242)
    bs.map_update(mfd, k, struct.pack("<Q", 77))
    assert b["bylen"][ctypes.c_uint32(4242)].value == 77
    with pytest.raises(KernelError, match="EEXIST"):
        bs.map_update(mfd, k, struct.pack("<Q", 1), bs.BPF_NOEXIST)
    keys = []
    key = bs.map_get_next_key(mfd, None, 4)
    while key is not None:
        keys.append(key)
        key = bs.map_get_next_key(mfd, key, 4)
    assert k in keys and len(keys) == len(set(keys)) == len(b["bylen"].items())
    assert bs.map_delete(mfd, k) is True
    assert bs.map_delete(mfd, k) is False
    assert ctypes.c_uint32(4242) not in b["bylen"]


def test_map_full_is_clear_error(loaded):
    b, _ = loaded
    mfd = b["bylen"].map_fd
    added = []
    try:
        with pytest.raises(KernelError, match="E2BIG|full"):
            for i in range(100000, 100020):  # capacity 8
                bs.map_update(mfd, struct.pack("<I", i), struct.pack("<Q", i))
                added.append(i)
        assert len(b["bylen"].items()) == 8
    finally:
        for i in added:
            bs.map_delete(mfd, struct.pack("<I", i))


def test_percpu_values(loaded):
    b, fd = loaded
    pfd = b["pcpu"].map_fd
    info = bs.map_info(pfd)
    assert info.percpu and info.value_size == 8 and info.max_entries == 4
    before = bs.map_lookup(pfd, struct.pack("<I", 0), 8, percpu=True)
    assert len(before) == bs.possible_cpus()
    bs.prog_test_run(fd, frame(0x0800, 100), repeat=10)
    after = bs.map_lookup(pfd, struct.pack("<I", 0), 8, percpu=True)
    total = lambda vals: sum(struct.unpack("<Q", v)[0] for v in vals)  # noqa: E731
    assert total(after) - total(before) == 1000
    assert total(after) == sum(b["pcpu"][ctypes.c_int(0)])
    bs.map_update(pfd, struct.pack("<I", 3), [struct.pack("<Q", i + 5)
                                                for i in range(bs.possible_cpus())],
                  percpu=True)
    assert list(b["pcpu"][ctypes.c_int(3)]) == [i + 5 for i in range(bs.possible_cpus())]


def test_possible_cpus_matches_sysfs():
    assert bs.possible_cpus() >= os.cpu_count() >= 1
    assert bs.value_buffer_size(12, percpu=True) == 16 * bs.possible_cpus()
    assert bs.split_percpu(bytes(range(32)), 4) == [bytes(range(4)), bytes(range(8, 12)),
                                                    bytes(range(16, 20)), bytes(range(24, 28))]


def test_info_and_pin_round_trip(loaded):
    b, fd = loaded
    pinfo = bs.prog_info(fd)
    assert pinfo.type == 6 and pinfo.name == "verdict" and pinfo.id > 0
    map_ids = {bs.map_info(t.map_fd).id for t in (b["bylen"], b["pcpu"])}
    assert map_ids <= set(pinfo.map_ids)
    minfo = bs.map_info(b["bylen"].map_fd)
    assert (minfo.name, minfo.key_size, minfo.value_size, minfo.max_entries, minfo.type) == \
        ("bylen", 4, 8, 8, 1)
    path = f"/sys/fs/bpf/cora-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        bs.obj_pin(b["bylen"].map_fd, path)
        with pytest.raises(KernelError, match="already pinned"):
            bs.obj_pin(b["bylen"].map_fd, path)
        fd2 = bs.obj_get(path)
        try:
            assert bs.map_info(fd2).id == minfo.id
        finally:
            os.close(fd2)
        pfd = bs.prog_get_fd_by_id(pinfo.id)
        try:
            assert bs.prog_test_run(pfd, frame(0x88B5)).retval == bs.XDP_DROP
        finally:
            os.close(pfd)
    finally:
        if os.path.exists(path):
            os.unlink(path)
    assert not os.path.exists(path)
    with pytest.raises(KernelError, match="nothing is pinned"):
        bs.obj_get(path)


def test_bpf_call_generic_command_and_hints():
    import errno
    path = ctypes.create_string_buffer(b"/sys/fs/bpf/cora-surely-not-pinned-here")
    attr = bs._ObjAttr(pathname=ctypes.addressof(path))
    with pytest.raises(KernelError, match="probing: No such file.*; custom advice") as info:
        bs.bpf_call(bs.BPF_OBJ_GET, attr, "probing", {errno.ENOENT: "custom advice"})
    assert info.value.errno == errno.ENOENT
