"""Hand-built IR programs used by IR, interpreter and backend tests (no front end needed)."""

from cora.compiler.ir import Builder, IntType, Program, RefType, StateDecl, StateField

U1, U8, U16, U32, U64 = (IntType(w) for w in (1, 8, 16, 32, 64))


def flowcount_ir() -> Program:
    """flowcount (issue 2, section 7) written directly in IR."""
    p = Program("flowcount")
    p.states.append(StateDecl(
        "flows", "hash",
        (StateField("saddr", 32), StateField("daddr", 32), StateField("sport", 16),
         StateField("dport", 16), StateField("proto", 8)),
        (StateField("packets", 64), StateField("bytes", 64)), 65536, "skip", origin="map"))
    b = Builder(p)
    done = b.new_block()
    vlan = b.emit("hdr.valid", U1, header="vlan")
    chk_ip = b.new_block()
    b.terminate("br", (vlan,), targets=(done.label, chk_ip.label))
    b.set_block(chk_ip)
    ip = b.emit("hdr.valid", U1, header="ipv4")
    chk_l4 = b.new_block()
    b.terminate("br", (ip,), targets=(chk_l4.label, done.label))
    b.set_block(chk_l4)
    tcp = b.emit("hdr.valid", U1, header="tcp")
    udp = b.emit("hdr.valid", U1, header="udp")
    l4 = b.emit("or", U1, tcp, udp)
    count = b.new_block()
    b.terminate("br", (l4,), targets=(count.label, done.label))
    b.set_block(count)
    keys = [b.emit("hdr.load", U32, header="ipv4", field="saddr"),
            b.emit("hdr.load", U32, header="ipv4", field="daddr")]
    sport, dport = b.new_reg(U16), b.new_reg(U16)
    t_blk, u_blk, k_blk = b.new_block(), b.new_block(), b.new_block()
    b.terminate("br", (tcp,), targets=(t_blk.label, u_blk.label))
    b.set_block(t_blk)
    b.emit("hdr.load", U16, dest=sport, header="tcp", field="sport")
    b.emit("hdr.load", U16, dest=dport, header="tcp", field="dport")
    b.terminate("jmp", targets=(k_blk.label,))
    b.set_block(u_blk)
    b.emit("hdr.load", U16, dest=sport, header="udp", field="sport")
    b.emit("hdr.load", U16, dest=dport, header="udp", field="dport")
    b.terminate("jmp", targets=(k_blk.label,))
    b.set_block(k_blk)
    keys += [sport, dport, b.emit("hdr.load", U8, header="ipv4", field="proto")]
    h = b.emit("map.lookup", RefType("flows"), *keys, state="flows")
    found = b.emit("ref.found", U1, h, state="flows")
    length = b.emit("zext", U64, b.emit("pkt.len", U32))
    one = b.emit("const", U64, value=1)
    upd, ins = b.new_block(), b.new_block()
    b.terminate("br", (found,), targets=(upd.label, ins.label))
    b.set_block(upd)
    pk = b.emit("add", U64, b.emit("ref.load", U64, h, state="flows", index=0), one)
    b.emit("ref.store", None, h, pk, state="flows", index=0)
    by = b.emit("add", U64, b.emit("ref.load", U64, h, state="flows", index=1), length)
    b.emit("ref.store", None, h, by, state="flows", index=1)
    b.terminate("jmp", targets=(done.label,))
    b.set_block(ins)
    b.emit("map.update", U1, *keys, one, length, state="flows", nkeys=5)
    b.terminate("jmp", targets=(done.label,))
    b.set_block(done)
    b.terminate("ret", verdict="pass")
    return p
