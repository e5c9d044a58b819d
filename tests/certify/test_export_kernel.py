"""Export to a BPF struct_ops tcp_congestion_ops: C, quantized certificate, real registration
and a real TCP connection over loopback with the controller selected by TCP_CONGESTION."""

import json
import os
import shutil
import socket
import threading
import time

import numpy as np
import pytest

from cora.certify import export as ex
from cora.certify import kernel
from cora.certify.nn import init_mlp
from cora.certify.quant import quantize
from cora.cli import main
from cora.errors import InputError, KernelError


def _net(seed=0):
    return init_mlp(6, (16, 16), 1, np.random.default_rng(seed), out_scale=0.05)


def test_cell_index_matches_cell_boxes():
    lo, hi = ex.cells()
    rng = np.random.default_rng(0)
    k = rng.integers(0, len(lo), 500)
    x = lo[k] + (hi[k] - lo[k]) * rng.uniform(0.001, 0.999, (500, 6))
    assert np.array_equal(ex.cell_index(x), k)


def test_proven_cells_are_sound_for_the_quantized_network():
    qnet = quantize(_net(1))
    table = ex.proven_cells(qnet, max_depth=1)
    assert 0 < table.mean() <= 1
    lo, hi = ex.cells()
    rng = np.random.default_rng(2)
    good = np.nonzero(table)[0]
    k = good[rng.integers(0, len(good), 3000)]
    x = lo[k] + (hi[k] - lo[k]) * rng.uniform(0, 1, (3000, 6))
    from cora.certify.properties import PROPERTIES
    for name in ex.RUNTIME_PROPERTIES:
        p = PROPERTIES[name]
        inside = np.all((x >= p.lo) & (x <= p.hi), axis=1)
        assert np.all(p.concrete(qnet, x[inside]) <= 0), name


def test_render_rejects_bad_names_and_shapes(tmp_path):
    with pytest.raises(InputError, match="bad controller name"):
        ex.export(_net(), str(tmp_path), name="Bad-Name", compile_obj=False)
    with pytest.raises(InputError, match="6 observations"):
        ex.export(init_mlp(5, (4,), 1, np.random.default_rng(0)), str(tmp_path), compile_obj=False)


def test_export_writes_c_and_quantized_certificate(tmp_path):
    info = ex.export(_net(), str(tmp_path), name="cora_unit", compile_obj=False, max_boxes=64)
    src = open(tmp_path / "cora_unit.bpf.c").read()
    assert 'SEC(".struct_ops")' in src and '.name = "cora_unit"' in src
    assert "cubictcp_cong_avoid" in src and "PROVEN[" in src
    cert = json.load(open(tmp_path / "certificate.json"))
    assert set(cert["certificates"]) >= set(ex.RUNTIME_PROPERTIES)
    for c in cert["certificates"].values():
        assert 0 <= c["quantized"]["proven_fraction"] <= 1
    assert info["cells"] == 8100
    q = ex.load_quantized(str(tmp_path / "quantized.npz"))
    x = np.random.default_rng(0).uniform(0, 0.5, (100, 6))
    assert np.array_equal(q(x), quantize(_net())(x))


def _transfer(cc: str, seconds: float = 1.5):
    """Bulk TCP over loopback with congestion control ``cc``; returns (name seen, bytes)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(5)
    got = [0]

    def rx():
        try:
            c, _ = srv.accept()
        except OSError:  # the client never connected
            return
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            got[0] += len(b)
        c.close()

    th = threading.Thread(target=rx, daemon=True)
    th.start()
    s = socket.socket()
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
        s.connect(srv.getsockname())
        seen = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode()
        buf = b"\0" * 65536
        t0 = time.time()
        while time.time() - t0 < seconds:
            s.sendall(buf)
    finally:
        s.close()
        th.join(timeout=10)
        srv.close()
    return seen, got[0]


@pytest.mark.kernel
@pytest.mark.slow
def test_register_run_tcp_and_unregister(tmp_path):
    if os.geteuid() != 0 or not shutil.which("bpftool") or not shutil.which("clang"):
        pytest.fail("needs root, bpftool and clang (see docs/certify.md)")
    name = f"cora_t{os.getpid() % 100000}"
    out = tmp_path / "exp"
    assert main(["certify", "export", "/dev/null", "-o", str(out)]) == 1  # bad model: clean error
    net = _net(3)
    ex.export(net, str(out), name=name, max_boxes=64)
    assert (out / f"{name}.bpf.o").is_file()
    assert name not in kernel.available()
    try:
        assert main(["certify", "load", str(out)]) == 0
        assert name in kernel.available()
        with pytest.raises(KernelError, match="already registered"):
            kernel.load(str(out))
        seen, nbytes = _transfer(name)
        assert seen == name and nbytes > 10_000_000
        rounds = kernel.round_counters(name)
        assert rounds["cora_nn_rounds"] + rounds["cora_fallback_rounds"] > 10
        # every round's observation is logged: as many as rounds (up to the slots), the
        # logged cell verdicts agree with the counters, the values lie in the domain
        x, proven, cwnd, n = kernel.observations(name, 0)
        total = rounds["cora_nn_rounds"] + rounds["cora_fallback_rounds"]
        assert n >= total and len(x) == min(n, ex.OBS_LOG_SLOTS) and x.shape[1] == 6
        if n <= ex.OBS_LOG_SLOTS:
            assert proven.sum() >= rounds["cora_nn_rounds"]  # NN rounds are proven cells
        from cora.certify.sim import OBS_HI, OBS_LO
        assert np.all(x >= OBS_LO - 1e-4) and np.all(x <= OBS_HI + 1e-4) and cwnd.min() >= 1
        x2, _, _, n2 = kernel.observations(name, n)
        assert n2 == n and len(x2) == 0
        # and through a real bottleneck between our own namespaces (veth, delay bridge, TBF)
        from cora.certify.netlab import Bottleneck, flow
        with Bottleneck(8, 10, 1.0, prefix=f"cct{os.getpid() % 100000}") as bed:
            r = flow(bed, name, seconds=3)
        assert 0.5 < r["throughput_mbit"] <= 8.2 and r["min_rtt_ms"] >= 10
        assert kernel.round_counters(name)["cora_nn_rounds"] + \
            kernel.round_counters(name)["cora_fallback_rounds"] > \
            rounds["cora_nn_rounds"] + rounds["cora_fallback_rounds"]
    finally:
        if name in kernel.available():
            kernel.unload(name)
    assert name not in kernel.available()
    # selecting it after unregistering fails: the kernel really dropped it
    with pytest.raises(OSError):
        _transfer(name, 0.1)


@pytest.mark.parametrize("hidden,head",
                         [((16, 16), "linear"), ((12,), "linear"), ((16, 16), "clip")])
def test_generated_c_network_equals_the_certified_integer_network(tmp_path, hidden, head):
    """The network code that goes into the BPF program, compiled for the host, computes
    exactly QuantizedMLP.forward_int -- the program the certificate is about (with the clip
    head, the clamp is part of both)."""
    import subprocess
    if not shutil.which("clang"):
        pytest.fail("needs clang")
    net = init_mlp(6, hidden, 1, np.random.default_rng(7), out_scale=1.0, output=head)
    qnet = quantize(net)
    assert qnet.output == head
    src = tmp_path / "h.c"
    src.write_text(ex.host_harness_c(qnet))
    subprocess.run(["clang", "-O2", "-o", str(tmp_path / "h"), str(src)], check=True)
    rng = np.random.default_rng(0)
    from cora.certify.sim import OBS_HI, OBS_LO
    x = rng.uniform(OBS_LO, OBS_HI, (500, 6))
    x[:50] = np.where(rng.uniform(size=(50, 6)) < 0.5, OBS_LO, OBS_HI)  # corners
    xq = np.floor(x * qnet.scale).astype(np.int64)
    out = subprocess.run([str(tmp_path / "h")], input="\n".join(" ".join(map(str, r)) for r in xq),
                         capture_output=True, text=True, check=True).stdout.split()
    got = np.array(out, dtype=np.int64)
    assert np.array_equal(got, qnet.forward_int(xq)[:, 0])
    if head == "clip":  # the clamp is exercised: some raw outputs leave [-1, 1]
        raw_net = quantize(init_mlp(6, hidden, 1, np.random.default_rng(7), out_scale=1.0))
        raw = raw_net.forward_int(xq)[:, 0]
        assert np.any(np.abs(raw) > qnet.scale) and np.all(np.abs(got) <= qnet.scale)
