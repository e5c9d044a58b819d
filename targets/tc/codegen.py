"""IR -> C for bcc: one TC classifier (``BPF_PROG_TYPE_SCHED_CLS``, cls_bpf direct-action)
per NF.

The XDP generator (:class:`cora.targets.ebpf.emit.XdpCodegen`) emits every op; this
subclass only changes its extension points:

- the context is ``struct __sk_buff *ctx``; ``ctx->data``/``ctx->data_end`` bound direct
  packet access exactly as in XDP, so every op's C is the XDP one;
- ``pkt.len`` is ``ctx->len`` (the whole frame, linear part and fragments; for a program at
  tc the Ethernet header is included);
- verdicts map to TC actions (include/uapi/linux/pkt_cls.h): ``pass`` -> ``TC_ACT_OK`` (0),
  ``drop`` -> ``TC_ACT_SHOT`` (2), ``tx`` -> ``bpf_redirect(ctx->ifindex, 0)`` (egress of the
  device the frame arrived on: the tc analogue of ``XDP_TX``), ``redirect(port)`` ->
  ``bpf_redirect(port, 0)`` (both return ``TC_ACT_REDIRECT``, 7); ``aborted`` (only the
  cannot-happen failure of the ``cora_env`` lookup) -> ``TC_ACT_SHOT``;
- a frame whose headers are not all in the linear part (an skb may keep them in page
  fragments) is first made linear up to :data:`PULL_BYTES` with ``bpf_skb_pull_data``, and
  ``data``/``data_end`` are re-derived (the helper invalidates packet pointers).

Offload shims (``shim.push``/``shim.pop``) are XDP-only (``bpf_xdp_adjust_head``); the tc
target refuses programs that use them (:func:`unsupported_ops`).
"""

from __future__ import annotations

from cora.compiler.ir import Program
from cora.errors import CoraError
from cora.targets.ebpf.emit import XdpCodegen

ENTRY = "cora_tc"
#: TC actions (include/uapi/linux/pkt_cls.h) for the fixed verdicts.
TC_ACT_OK = 0
TC_ACT_SHOT = 2
TC_ACT_REDIRECT = 7
TC_CODES = {"pass": TC_ACT_OK, "drop": TC_ACT_SHOT, "aborted": TC_ACT_SHOT}
#: Bytes made linear before parsing: the most the parser and header ops read from the frame
#: start (Ethernet 14 + VLAN tag 4 + IPv4 with options 60 + TCP with options 60).
PULL_BYTES = 14 + 4 + 60 + 60
#: IR ops the tc target cannot express (they need ``bpf_xdp_adjust_head``).
XDP_ONLY_OPS = ("shim.push", "shim.pop")


def unsupported_ops(program: Program) -> list[str]:
    """One line per op of ``program`` the tc target cannot generate ([] when none)."""
    out = []
    for _, op in program.ops():
        if op.opcode in XDP_ONLY_OPS:
            where = f"{op.span.line}:{op.span.col}: " if op.span else ""
            out.append(f"{where}{op.opcode}: offload shims are XDP-only "
                       "(bpf_xdp_adjust_head); the tc target runs whole programs")
    return out


class TcCodegen(XdpCodegen):
    """Generates the C of one sched_cls program (see the module docstring).

    Args:
        program: a verified :class:`~cora.compiler.ir.Program` without shim ops.
        inject_env: read now()/rand() from the ``cora_env`` map (differential runs).
        count_verdicts: count IR verdicts per CPU in ``cora_verdicts`` (indexed like XDP:
            aborted 0, drop 1, pass 2, tx 3, redirect 4), which also tells ``tx`` from
            ``redirect`` when both return ``TC_ACT_REDIRECT``.
    Raises:
        CoraError: the program uses an op the tc target cannot express.
    """

    entry = ENTRY
    ctx_type = "struct __sk_buff"

    def __init__(self, program: Program, inject_env: bool = False,
                 count_verdicts: bool = False):
        problems = unsupported_ops(program)
        if problems:
            raise CoraError(f"the tc target cannot generate {program.name}: {problems[0]}")
        super().__init__(program, inject_env=inject_env, count_verdicts=count_verdicts,
                         frags=False, pass_redirect_ifindex=None)

    def verdict_code(self, verdict: str) -> str:
        """The TC action (or the ``bpf_redirect`` call) returned for an IR verdict."""
        if verdict == "tx":
            return "bpf_redirect(ctx->ifindex, 0)"
        return str(TC_CODES[verdict])

    def pkt_len_expr(self) -> str:
        """``pkt.len``: ``skb->len``, the whole frame including the Ethernet header."""
        return "ctx->len"

    def emit_prologue(self) -> None:
        """Pull the header bytes into the linear part when they are not all there."""
        if not self.headers_used:
            return
        self.emit(f"if (data + {PULL_BYTES} > data_end && ctx->len > "
                  "(u32)(data_end - data)) {")
        self.emit(f"bpf_skb_pull_data(ctx, ctx->len < {PULL_BYTES} ? ctx->len : "
                  f"{PULL_BYTES});", indent=2)
        self.emit("data = (void *)(long)ctx->data; data_end = (void *)(long)ctx->data_end;",
                  indent=2)
        self.emit("}")


def generate_c(program: Program, inject_env: bool = False, count_verdicts: bool = False
               ) -> tuple[str, dict[int, tuple[int, int]]]:
    """C source for bcc and the map of C line -> NF (line, col). See :class:`TcCodegen`.

    Raises:
        CoraError: the program uses shim ops.
    """
    gen = TcCodegen(program, inject_env=inject_env, count_verdicts=count_verdicts)
    text = gen.generate()
    return text, gen.line_map
