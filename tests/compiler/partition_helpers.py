"""Hand-made stage models and IR programs whose optimal partition is known by hand.

The models are built with the real loader (``cora.compiler.offload.stage_model.model_from_dict``)
from round test figures: every op costs 1 ns on every stage, so expected costs can be counted.
"""

from __future__ import annotations

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from cora.compiler.ir import Builder, IntType, Program, RefType, StateDecl, StateField
from cora.compiler.offload.stage_model import ALL_OP_CLASSES, model_from_dict

U1, U8, U32, U64 = IntType(1), IntType(8), IntType(32), IntType(64)
KINDS = ["array", "hash", "lpm", "lru_hash", "percpu_array"]

#: CP-SAT settings for tests that assert optimality: one worker (CP-SAT's search is then
#: deterministic) and a wall-time limit far above what these small problems need, so the
#: result does not depend on how loaded the machine is. Solve times are bench/partition.py's.
SOLVER = {"time_limit_s": 600.0, "workers": 1}
#: the exhaustive baseline's wall-time limit where a test asserts that it finishes (the known
#: answer); its leaf limit still bounds the work.
EXHAUSTIVE_LIMIT_S = 600.0


def model(name: str, kind: str, per_packet_ns: float, cores: int = 1, crossing_ns: float = 0.0,
          shim_byte_ns: float = 0.0, tiers=(("MEM", 1 << 40, 0.0),), **over):
    """A stage model with every op class at 1 ns and map calls at +0 ns (test figures)."""
    data = {
        "name": name, "kind": kind, "description": "test model", "cores": cores,
        "clock_ghz": 1.0, "op_classes": list(ALL_OP_CLASSES), "map_kinds": list(KINDS),
        "max_instructions": 0, "max_maps": 64, "max_map_entries": 1 << 32,
        "verdicts": ["pass", "drop", "tx", "redirect"],
        "tiers": [{"name": n, "bytes": b, "access_ns": a} for n, b, a in tiers],
        "op_cost_ns": {c: 1.0 for c in ALL_OP_CLASSES},
        "map_cost_ns": {k: 0.0 for k in KINDS},
        "per_packet_ns": per_packet_ns, "crossing_ns": crossing_ns,
        "shim_byte_ns": shim_byte_ns, "max_shim_bytes": 64,
        "sources": {"_": "test figure"},
    }
    data.update(over)
    figs = ["cores", "clock_ghz", "max_instructions", "max_maps", "max_map_entries",
            "per_packet_ns", "crossing_ns", "shim_byte_ns", "max_shim_bytes", "op_cost_ns",
            "map_cost_ns", "opcode_cost_ns", "map_op_cost_ns", "tiers"]
    data["sources"] = {f: "test figure" for f in figs}
    data["sources"].update({f"tiers.{t['name']}": "test figure" for t in data["tiers"]})
    return model_from_dict(data, f"<test {name}>")


def models(nic_per_packet_ns: float = 10.0, **nic_over):
    """(nic, kernel, user): per packet 10 / 20 / 50 ns; kernel crossing 5 ns + 0.5 ns/byte,
    user crossing 100 ns; the NIC has 1 core."""
    nic = model("tnic", "nic", nic_per_packet_ns, **nic_over)
    kernel = model("tkernel", "host", 20.0, crossing_ns=5.0, shim_byte_ns=0.5)
    user = model("tuser", "host", 50.0, crossing_ns=100.0)
    return nic, kernel, user


def _ipv4_branch(b: Builder, n_adds: int, first_opcode: str, **attrs) -> None:
    """End the current block with ``v = hdr.valid ipv4; br v, heavy, drop``: ``heavy`` holds
    ``first_opcode`` (a u32 with ``attrs``) then ``n_adds`` adds and ``ret pass``; ``drop`` holds
    ``ret drop``."""
    v = b.emit("hdr.valid", U1, header="ipv4")
    heavy, drop = b.new_block(), b.new_block()
    b.terminate("br", (v,), targets=(heavy.label, drop.label))
    b.set_block(heavy)
    c = b.emit(first_opcode, U32, **attrs)
    for _ in range(n_adds):
        c = b.emit("add", U32, c, c)
    b.terminate("ret", verdict="pass")
    b.set_block(drop)
    b.terminate("ret", verdict="drop")


def filter_program() -> Program:
    """bb0: ``v = hdr.valid ipv4; br v, bb1, bb2``; bb1: 10 ops (const + 9 adds), ret pass;
    bb2: ret drop. Ops per block: bb0 2, bb1 11, bb2 1."""
    p = Program("filter")
    b = Builder(p)
    _ipv4_branch(b, 9, "const", value=1)
    return p


def shim_program() -> Program:
    """bb0 loads saddr (u32) and ttl (u8), ``br valid, bb1, bb2``; bb1 uses both (live into
    bb1: shim 2 + 4 + 1 = 7 bytes); bb2 ret drop."""
    p = Program("shim")
    b = Builder(p)
    s = b.emit("hdr.load", U32, header="ipv4", field="saddr")
    t = b.emit("hdr.load", U8, header="ipv4", field="ttl")
    v = b.emit("hdr.valid", U1, header="ipv4")
    use, drop = b.new_block(), b.new_block()
    b.terminate("br", (v,), targets=(use.label, drop.label))
    b.set_block(use)
    t32 = b.emit("zext", U32, t)
    x = b.emit("add", U32, s, t32)
    b.emit("hdr.store", None, x, header="ipv4", field="daddr")
    b.terminate("ret", verdict="pass")
    b.set_block(drop)
    b.terminate("ret", verdict="drop")
    return p


def two_state_program(kind: str = "hash", entries: int = 100) -> Program:
    """One block: two lookups in A, one in B (key u32, value u64: 12 bytes per entry,
    ``entries`` entries each), then update B; ret pass."""
    p = Program("twostate")
    for n in ("A", "B"):
        p.states.append(StateDecl(n, kind, (StateField("k", 32),), (StateField("v", 64),),
                                  entries, "skip" if kind == "hash" else None))
    b = Builder(p)
    k = b.emit("const", U32, value=1)
    one = b.emit("const", U64, value=1)
    b.emit("map.lookup", RefType("A"), k, state="A")
    b.emit("map.lookup", RefType("A"), k, state="A")
    b.emit("map.lookup", RefType("B"), k, state="B")
    b.emit("map.update", U1, k, one, state="B", nkeys=1)
    b.emit("map.update", U1, k, one, state="A", nkeys=1)
    b.terminate("ret", verdict="pass")
    return p


def frames(n_ipv4: int, n_arp: int) -> list[bytes]:
    """``n_ipv4`` IPv4/UDP frames then ``n_arp`` ARP frames (explicit MACs)."""
    eth = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    out = [bytes(Ether(**eth) / IP(src="10.0.0.1", dst="10.0.0.2", ttl=64) / UDP(sport=1, dport=2))
           for _ in range(n_ipv4)]
    out += [bytes(Ether(**eth) / ARP()) for _ in range(n_arp)]
    return out


def rand_program() -> Program:
    """bb0: ``r = rand``, ``br ipv4.valid, bb1, bb2``; bb1: 8 more ops and a second ``rand``,
    ret pass; bb2: ret drop. Both rand blocks must share a stage (one PRNG state)."""
    p = Program("rand2")
    b = Builder(p)
    b.emit("rand", U32)
    _ipv4_branch(b, 8, "rand")
    return p


def readonly_program() -> Program:
    """filter_program with a read-only array ``cfg`` (initial entry, never written) read in
    bb0 (lookup + ref.load) and in bb1 (lookup + ref.load)."""
    p = Program("readonly")
    p.states.append(StateDecl("cfg", "array", (StateField("index", 32),),
                              (StateField("v", 32),), 4, None, init=(((0,), (7,)),)))
    b = Builder(p)
    zero = b.emit("const", U32, value=0)
    h = b.emit("map.lookup", RefType("cfg"), zero, state="cfg")
    b.emit("ref.load", U32, h, state="cfg", index=0)
    v = b.emit("hdr.valid", U1, header="ipv4")
    heavy, drop = b.new_block(), b.new_block()
    b.terminate("br", (v,), targets=(heavy.label, drop.label))
    b.set_block(heavy)
    z = b.emit("const", U32, value=0)
    h2 = b.emit("map.lookup", RefType("cfg"), z, state="cfg")
    c = b.emit("ref.load", U32, h2, state="cfg", index=0)
    for _ in range(7):
        c = b.emit("add", U32, c, c)
    b.terminate("ret", verdict="pass")
    b.set_block(drop)
    b.terminate("ret", verdict="drop")
    return p
