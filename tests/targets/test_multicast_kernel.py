"""The multicast verdict in the kernel (docs/language.md, "Multicast").

1. Differential (BPF_PROG_TEST_RUN): the XDP program and the interpreter agree on the
   verdict (``multicast`` told from ``redirect`` by the verdict counters), the output bytes
   and the state of every frame, with the group filled with this namespace's interfaces.
2. Live, on veth pairs in namespaces ``cora-mcast-<random>-*``: the NF deployed on a switch
   port sends a frame sent into that port out of every port of the group (not the ingress
   port with ``exclude_ingress``), each copy with the bytes the interpreter predicts.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from cora.compiler.driver import compile_file
from cora.compiler.interp import Interpreter
from cora.runtime.engine import InterpEngine, KernelEngine
from cora.runtime.run import run_frames
from cora.testbed.topology import in_netns

pytestmark = pytest.mark.kernel

NF = Path(__file__).parent / "nf" / "multicast.nf"
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
RECV_DEADLINE_S = 5.0


def udp_frame(dport: int, marker: bytes) -> bytes:
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                 IP(src="10.0.0.1", dst="10.0.0.2", ttl=64) /
                 UDP(sport=1000, dport=dport) / (b"cora-mcast " + marker))


@pytest.fixture(scope="module")
def program():
    return compile_file(NF)


# ------------------------------------------------------------------------- differential

@pytest.fixture(scope="module")
def ports_ns():
    """(namespace, its ifindexes): a namespace of this test with 4 veth pairs, whose
    interfaces fill the groups (the kernel resolves a devmap slot's ifindex in the writer's
    namespace), so no test holds another user's interfaces in a map."""
    from cora.testbed.topology import Topology

    with Topology(prefix=f"cora-mcast-{secrets.token_hex(3)}-") as topo:
        topo.add_namespace("d")
        for n in range(4):
            topo.add_link("d", "d", ifname_a=f"a{n}", ifname_b=f"b{n}", addresses=False)
        ns = topo.ns("d")
        yield ns, sorted(i for name, i in ifindexes_in(ns).items() if name != "lo")


@pytest.mark.netns
def test_kernel_equals_interpreter_on_multicast_frames(program, ports_ns):
    ns, have = ports_ns
    ports = have[:3]
    with in_netns(ns):  # groups are filled (and refilled by reset) in ns: its ifindexes
        check_fixed_frames(program, ports)


def check_fixed_frames(program, ports: list[int]) -> None:
    frames = [udp_frame(d, bytes([n])) for n, d in enumerate([7, 9, 10, 11, 12, 7, 9, 53])]
    frames.append(bytes(Ether(type=0x88B5) / (b"\x00" * 30)))   # not IPv4: pass
    with KernelEngine(program) as k, InterpEngine(program) as i:
        for e in (k, i):
            e.set_group("workers", ports)
            e.set_group("others", ports[:1])
        report = run_frames(program, list(enumerate(frames)), engine="both", engines=(k, i),
                            keep_outputs=True)
        assert report.mismatches == 0, [(d.index, d.what, d.detail) for d in report.details]
        assert report.verdicts["multicast"] == 6
        assert (report.verdicts["redirect"], report.verdicts["drop"],
                report.verdicts["pass"]) == (1, 1, 1)
        assert k.entries("workers") == i.entries("workers") == \
            [((n,), (p,)) for n, p in enumerate(ports)]
        assert k.lookup("hits", (0,)) == (8,) and k.lookup("hits", (1,)) == (1,)
        k.set_group("workers", ports[1:])
        assert k.entries("workers") == [((0,), (ports[1],)), ((1,), (ports[2],))]
        k.reset()   # the ports are configuration: a reset fills them again, state is zeroed
        assert k.entries("workers") == [((0,), (ports[1],)), ((1,), (ports[2],))]
        assert k.lookup("hits", (0,)) is None


@pytest.fixture(scope="module")
def engines(program):
    with KernelEngine(program) as k, InterpEngine(program) as i:
        yield k, i


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
@pytest.mark.netns
def test_kernel_equals_interpreter_on_random_groups_and_frames(program, engines, ports_ns,
                                                                data):
    """Any fill of the groups (any subset of this namespace's interfaces, in any order) and
    any mix of frames: the same verdicts, bytes and state in both engines."""
    k, i = engines
    ns, have = ports_ns
    with in_netns(ns):  # groups are filled (and refilled by reset) in ns: its ifindexes
        check_random(program, k, i, have, data)


def check_random(program, k, i, have: list[int], data) -> None:
    workers = data.draw(st.permutations(have).flatmap(
        lambda p: st.integers(0, min(8, len(p))).map(lambda n: p[:n])))
    others = data.draw(st.lists(st.sampled_from(have), max_size=2, unique=True))
    dports = data.draw(st.lists(st.sampled_from([7, 9, 10, 11, 12, 53]), min_size=1,
                                max_size=12))
    for e in (k, i):
        e.set_group("workers", workers)
        e.set_group("others", others)
    trace = [(n, udp_frame(d, bytes([n]))) for n, d in enumerate(dports)]
    report = run_frames(program, trace, engine="both", engines=(k, i))
    assert report.mismatches == 0, [(d.index, d.what, d.detail) for d in report.details]
    assert report.verdicts["multicast"] == sum(d in (7, 9, 10, 53) for d in dports)


# ---------------------------------------------------------------------------- live test

@contextlib.contextmanager
def capture(ns: str, ifname: str):
    """An AF_PACKET socket on ``ifname`` in namespace ``ns`` (non-blocking)."""
    with in_netns(ns):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        s.bind((ifname, 0))
        s.setblocking(False)
        yield s
    finally:
        s.close()


def received(sock: socket.socket, want: int, deadline: float) -> list[bytes]:
    """The first ``want`` cora-mcast frames that arrive on ``sock`` (not its own sends),
    polled until ``deadline`` (time.monotonic)."""
    got: list[bytes] = []
    while len(got) < want and time.monotonic() < deadline:
        try:
            data, addr = sock.recvfrom(65536)
        except BlockingIOError:
            time.sleep(0.005)   # poll interval, not a wait for an outcome
            continue
        if addr[2] != PACKET_OUTGOING and b"cora-mcast " in data:
            got.append(data)
    return got


@pytest.mark.netns
@pytest.mark.slow
def test_live_multicast_reaches_every_group_port_with_the_predicted_bytes(program):
    from cora.runtime import pins
    from cora.runtime.deploy import deploy, passthrough_program, undeploy
    from cora.runtime.groups import group_ports, set_group
    from cora.testbed.topology import star

    n_ports = 4
    with star(n_ports, prefix=f"cora-mcast-{secrets.token_hex(3)}-") as topo:
        sw = topo.ns("sw")
        deployed: list[tuple[str, str]] = []
        try:
            # a veth hands XDP-redirected frames to its peer only while the peer runs XDP
            for i in range(n_ports):
                deploy(passthrough_program(f"rx{i}"), "eth0", topo.ns(f"h{i}"), stats=False)
                deployed.append(("eth0", topo.ns(f"h{i}")))
            deploy(program, "p0", sw)
            deployed.append(("p0", sw))
            ifindexes = set_group("p0", sw, "workers", [f"p{i}" for i in range(n_ports)])
            set_group("p0", sw, "others", ["p2"])
            with pins.open_pinned(pins.deployment_dir("p0", sw)) as pinned:
                state = next(s for s in program.states if s.name == "workers")
                assert group_ports(pinned.maps["workers"], state) == ifindexes
            port_of = {idx: i for i, idx in enumerate(ifindexes)}

            interp = Interpreter(program)
            interp.set_group("workers", ifindexes)
            interp.set_group("others", [ifindexes[2]])
            sends = [udp_frame(9, b"excl"), udp_frame(10, b"others"), udp_frame(7, b"all")]
            want: dict[int, list[bytes]] = {i: [] for i in range(n_ports)}
            for f in sends:
                res = interp.run(f, ingress_ifindex=ifindexes[0])
                assert res.verdict == "multicast"
                for port, out in res.outputs:
                    want[port_of[port]].append(out)
            # the prediction itself: exclude_ingress leaves out h0 (p0, where frames enter)
            assert [len(want[i]) for i in range(n_ports)] == [1, 2, 3, 2]   # h2 is in "others" too
            assert want[0][0].endswith(b"all") and want[2][1].endswith(b"others")

            with contextlib.ExitStack() as stack:
                socks = [stack.enter_context(capture(topo.ns(f"h{i}"), "eth0"))
                         for i in range(n_ports)]
                with in_netns(topo.ns("h0")):
                    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
                try:
                    tx.bind(("eth0", 0))
                    for f in sends:
                        tx.send(f)
                finally:
                    tx.close()
                deadline = time.monotonic() + RECV_DEADLINE_S
                got = {i: received(socks[i], len(want[i]), deadline) for i in range(n_ports)}
            # every port got exactly the predicted copies, in order and byte for byte; h0's
            # first copy is the 'all' frame, so the excluded one never came back to it
            assert got == want
        finally:
            for dev, ns in reversed(deployed):
                with contextlib.suppress(Exception):
                    undeploy(dev, ns)


@pytest.mark.netns
@pytest.mark.slow
def test_cli_fills_a_deployed_group(tmp_path):
    """``cora deploy --group`` and ``cora group`` (strict JSON), and their errors: one line,
    exit 1, no traceback."""
    import json

    from cora.testbed.topology import Topology

    from ..runtime.cli_run import cora, one_line_error

    with Topology(prefix=f"cora-mcast-{secrets.token_hex(3)}-") as topo:
        topo.add_namespace("sw")
        topo.add_namespace("h")
        for i in range(3):
            topo.add_link("sw", "h", ifname_a=f"p{i}", ifname_b=f"q{i}", addresses=False)
        sw = topo.ns("sw")
        try:
            r = cora("deploy", NF, "--dev", "p0", "--netns", sw, "--group", "workers=p1,p2",
                     "--json", check=True)
            meta = json.loads(r.stdout)
            idx = ifindexes_in(sw)
            assert meta["groups"] == {"workers": [idx["p1"], idx["p2"]]}
            r = cora("group", "--dev", "p0", "--netns", sw, "workers", "p2", str(idx["p0"]),
                     "--json", check=True)
            assert json.loads(r.stdout) == {"group": "workers",
                                            "ifindexes": [idx["p2"], idx["p0"]]}
            stats = json.loads(cora("stats", "--dev", "p0", "--netns", sw, "--json",
                                    check=True).stdout)
            assert [row["value"] for row in stats["maps"]["workers"]] == \
                [[idx["p2"]], [idx["p0"]]]
            assert "multicast" in stats["verdicts"]
            assert "no group 'hits'" in one_line_error(
                cora("group", "--dev", "p0", "--netns", sw, "hits", "p1"))
            assert "port" in one_line_error(
                cora("group", "--dev", "p0", "--netns", sw, "workers", "p1", "p1"))
            assert "no interface nope" in one_line_error(
                cora("group", "--dev", "p0", "--netns", sw, "workers", "nope"))
            assert "refused port 999999" in one_line_error(
                cora("group", "--dev", "p0", "--netns", sw, "workers", "999999"))
            assert "holds at most 2 ports" in one_line_error(
                cora("group", "--dev", "p0", "--netns", sw, "others", "p0", "p1", "p2"))
        finally:
            cora("undeploy", "--dev", "p0", "--netns", sw)


def ifindexes_in(ns: str) -> dict[str, int]:
    """Interface name -> ifindex of the interfaces of namespace ``ns``."""
    with in_netns(ns):
        return {name: i for i, name in socket.if_nameindex()}
