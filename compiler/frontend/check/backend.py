"""The eBPF backends' limits, checked on the lowered program, reported at NF source lines.

The checker (:mod:`cora.compiler.frontend.check`) proves a program well typed; this module
makes sure a well-typed program also compiles with clang and loads into the kernel, or says
why not with the source position to blame. :func:`check_backend_limits` runs on the verified
(and optimised) IR program the driver lowers from a checked module, so it sees what the C
emitter (:mod:`cora.targets.ebpf.emit`) will generate. The limits, with their sources (Linux
6.1 headers, the kernel this project compiles against):

- :data:`MAX_USED_MAPS` = 64 maps per program (``MAX_USED_MAPS``,
  include/linux/bpf_verifier.h; the verifier fails with E2BIG, naming no line). The
  runtime's own maps (``cora_env``, ``cora_verdicts``: :data:`RUNTIME_MAPS`) count too, so
  a program uses at most :data:`MAX_STATES_USED` states.
- :data:`MAX_JUMP_INSNS` = 32,767: a jump's target is a signed 16-bit instruction offset
  (``__s16 off`` of ``struct bpf_insn``, include/uapi/linux/bpf.h); clang refuses a longer
  branch ("Branch target out of insn range"). No jump is longer than the program, so the
  estimated program length is held under :data:`MAX_PROGRAM_INSNS` (the jump range less a
  margin for the estimate's error). This also keeps it far below the verifier's budget of
  1,000,000 processed instructions (``BPF_COMPLEXITY_LIMIT_INSNS``, include/linux/bpf.h).
- :data:`MAX_STACK_BYTES` = 512 (``MAX_BPF_STACK``, include/linux/filter.h): every map call
  takes its key (and an update its value) as a struct on the stack.
- :data:`MAX_PERCPU_ARRAY_SLOTS`: the kernel creates a per-CPU array slot by slot, so a
  huge one takes minutes to create.

The instruction estimate is :func:`estimate_ebpf_instructions` (per-op costs from the op
registry, :attr:`cora.compiler.ir.ops.OpDef.ebpf_insns`), the same one the NIC stage checks
(:mod:`cora.compiler.offload.nic_checks`) use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cora.compiler.frontend import ast as A
from cora.compiler.frontend.check.result import Checked
from cora.compiler.frontend.diagnostics import Diagnostic
from cora.compiler.ir import OPS, Op, Program
from cora.compiler.ir.headers import HEADERS
from cora.compiler.span import Span

#: Maps one eBPF program may use (include/linux/bpf_verifier.h ``MAX_USED_MAPS``).
MAX_USED_MAPS = 64
#: Maps the runtime may add to a program: ``cora_env`` (injected now()/rand()) and
#: ``cora_verdicts`` (verdict counters), see :mod:`cora.targets.ebpf.emit`.
RUNTIME_MAPS = 2
#: States one program may use.
MAX_STATES_USED = MAX_USED_MAPS - RUNTIME_MAPS
#: Longest jump, in instructions (``__s16 off`` of ``struct bpf_insn``).
MAX_JUMP_INSNS = (1 << 15) - 1
#: Estimated instructions a program may have: half the jump range, which leaves room for
#: the estimate's error (bcc's count was within 0.6x-1.6x of it on the limits corpus,
#: tests/compiler/nf/limits/) and keeps clang's compile time within about half a minute
#: (measured on this project's 2-core VMs, loaded: 18 s for an 11,600-instruction program).
MAX_PROGRAM_INSNS = (MAX_JUMP_INSNS + 1) // 2
#: Stack of one eBPF program, bytes (include/linux/filter.h ``MAX_BPF_STACK``).
MAX_STACK_BYTES = 512
#: Stack the generated code needs besides the largest map key and value (spilled registers,
#: the parser's header pointers), bytes: a modelled allowance. Measured with bcc here: an
#: update of 488 bytes of key and value compiles in a small program, 504 bytes do not
#: ("BPF stack limit of 512 bytes is exceeded"); two such updates in one program need no
#: more than one (clang reuses the slots), so the largest map call is what counts.
STACK_RESERVE_BYTES = 128

#: Slots of per-CPU arrays one program may use, summed. The kernel allocates every slot of a
#: per-CPU array separately when the map is created (kernel/bpf/arraymap.c,
#: ``bpf_array_alloc_percpu``): measured 8.2 s for 1,048,576 slots on this project's 2-core
#: VMs (loaded), so 16 M slots took minutes; a plain array of 16 M slots takes 0.15 s.
MAX_PERCPU_ARRAY_SLOTS = 1 << 20

#: eBPF instructions the C emitter produces per IR op, by opcode (fixed part; from the op
#: registry, :attr:`cora.compiler.ir.ops.OpDef.ebpf_insns`); map calls add one store per 8
#: bytes of key (and value), header stores a checksum fix-up. Derived from the generator's
#: output (targets/ebpf/emit.py) and checked against bcc's instruction counts of the NF
#: library (tests/targets/test_nic_checks.py).
EBPF_INSNS: Mapping[str, float] = {name: d.ebpf_insns for name, d in OPS.items()}
#: eBPF instructions of the program prologue plus header parser (per-operand costs such as
#: ``hash``'s two splitmix64 rounds are :attr:`~cora.compiler.ir.ops.OpDef.ebpf_insns_per_operand`).
EBPF_PROLOGUE = 40


def op_ebpf_instructions(program: Program, op: Op) -> float:
    """Estimated eBPF instructions the C emitter's code for ``op`` (of ``program``) takes
    (see :data:`EBPF_INSNS`)."""
    d = OPS[op.opcode]
    total = d.ebpf_insns + d.ebpf_insns_per_operand * len(op.args)
    if op.opcode == "hdr.store":
        total *= hdr_store_checksums(op.attrs["header"], op.attrs["field"])
    if d.map_call:
        st = program.state(op.attrs["state"])
        nbytes = st.key_bytes + (st.value_bytes if d.map_call == "key+value" else 0)
        total += nbytes / 8 + len(op.args)
    return total


def hdr_store_checksums(header: str, field: str) -> int:
    """Checksums a store into ``header.field`` fixes (at least 1): the header's own and, for
    a pseudo-header field (IP addresses), TCP's and UDP's. Each fix-up re-checks bounds and
    folds the sum, so a store costs about :data:`EBPF_INSNS` ``["hdr.store"]`` per checksum
    (bcc's counts for this repository's limits corpus: about 22 instructions for an IPv4
    TTL store, 92 for an IPv4 source address)."""
    h = HEADERS[header]
    return max(1, int(bool(h.csum_field)) + (2 if field in h.pseudo_header_fields else 0))


def estimate_ebpf_instructions(program: Program, blocks: Iterable[str] | None = None) -> int:
    """Estimated eBPF instructions of the xdp code generated for ``blocks`` of ``program``
    (all blocks by default), prologue and parser included (see :data:`EBPF_INSNS`)."""
    wanted = None if blocks is None else set(blocks)
    total = float(EBPF_PROLOGUE)
    for block in program.blocks:
        if wanted is None or block.label in wanted:
            total += sum(op_ebpf_instructions(program, op) for op in block.ops)
    return int(round(total))


def map_call_stack_bytes(program: Program, op: Op) -> int:
    """Stack bytes the key (and value, for an update) struct of map call ``op`` takes: each
    rounded up to 8 bytes (0 for an op that is not a map call)."""
    d = OPS[op.opcode]
    if not d.map_call:
        return 0
    st = program.state(op.attrs["state"])
    nbytes = -(-st.key_bytes // 8) * 8
    if d.map_call == "key+value":
        nbytes += -(-st.value_bytes // 8) * 8
    return nbytes


def check_backend_limits(checked: Checked, program: Program, path: str) -> list[Diagnostic]:
    """The eBPF limits ``program`` (lowered from ``checked``) breaks, as diagnostics.

    Args:
        checked: the checker's result for the module (no errors).
        program: the verified IR program lowered from it (after the default passes).
        path: the file name shown in diagnostics.
    Returns:
        errors (``[]`` when the program fits): too many states used (at the first state
        over :data:`MAX_STATES_USED`), too many instructions (at the ``for`` loop, function
        or ``on packet`` block whose code is the largest part), a map key/value over the
        stack (at the state's declaration).
    """
    return (_maps_used(checked, program, path) + _percpu_slots(checked, program, path)
            + _program_size(checked, program, path) + _stack(checked, program, path))


def _decl_span(checked: Checked, name: str) -> Span:
    return checked.states[name].decl.name_span


def _maps_used(checked: Checked, program: Program, path: str) -> list[Diagnostic]:
    used = {op.attrs["state"] for _, op in program.ops() if "state" in op.attrs}
    names = [s for s in checked.states if s in used]  # declaration order
    if len(names) <= MAX_STATES_USED:
        return []
    over = names[MAX_STATES_USED]
    return [Diagnostic.at(path, _decl_span(checked, over),
                          f"'{over}' is state number {MAX_STATES_USED + 1} the program uses "
                          f"({len(names)} in all); one eBPF program can use at most "
                          f"{MAX_USED_MAPS} maps (the kernel's MAX_USED_MAPS), {RUNTIME_MAPS} of "
                          f"them kept for the runtime: merge states (e.g. one map keyed by a "
                          f"tuple) or use at most {MAX_STATES_USED}")]


def _percpu_slots(checked: Checked, program: Program, path: str) -> list[Diagnostic]:
    total = 0
    for st in program.states:
        if st.kind != "percpu_array":
            continue
        total += st.capacity
        if total > MAX_PERCPU_ARRAY_SLOTS:
            decl = checked.states[st.name].decl
            where = decl.capacity.span if decl.capacity is not None else decl.name_span
            return [Diagnostic.at(path, where,
                                  f"per-CPU arrays of this program hold {total:,} slots with "
                                  f"'{st.name}'; at most {MAX_PERCPU_ARRAY_SLOTS:,} are allowed "
                                  f"(the kernel allocates each slot of a per-CPU array "
                                  f"separately, which takes minutes for millions): lower the "
                                  f"capacity or use array<V>")]
    return []


def _regions(checked: Checked) -> list[tuple[A.Node, Span, str]]:
    """Source regions to blame for code size: every outermost ``for`` of the handler and of
    each function, then the functions and the handler themselves (node, span to underline,
    words for the message)."""
    loops: list[tuple[A.Node, Span, str]] = []

    def walk(node: object) -> None:
        if isinstance(node, A.For):
            lo_hi = checked.loop_of(node)
            bounds = f"{lo_hi[0]}..{lo_hi[1]}" if lo_hi else "..."
            trips = f" ({lo_hi[1] - lo_hi[0]} iterations)" if lo_hi else ""
            head = Span(node.span.line, node.span.col, node.body.span.line,
                        node.body.span.col)
            loops.append((node, head, f"the loop 'for ({node.var} in {bounds})'{trips}"))
            return
        if isinstance(node, A.Node):
            for v in vars(node).values():
                if isinstance(v, (A.Node, tuple)):
                    walk(v)
        elif isinstance(node, tuple):
            for x in node:
                walk(x)

    bodies: list[tuple[A.Node, Span, str]] = []
    for fn in checked.fns.values():
        walk(fn.decl.body)
        bodies.append((fn.decl, fn.decl.name_span, f"function '{fn.decl.name}'"))
    if checked.entry is not None:
        walk(checked.entry.body)
        e = checked.entry
        bodies.append((e, Span(e.span.line, e.span.col, e.event_span.end_line,
                               e.event_span.end_col), "the 'on packet' block"))
    return loops + bodies


def _inside(span: Span, node: A.Node) -> bool:
    s = node.span
    return (s.line, s.col) <= (span.line, span.col) < (s.end_line, s.end_col)


def _program_size(checked: Checked, program: Program, path: str) -> list[Diagnostic]:
    total = estimate_ebpf_instructions(program)
    if total <= MAX_PROGRAM_INSNS:
        return []
    regions = _regions(checked)
    cost = [0.0] * len(regions)
    for _, op in program.ops():
        if op.span is None:
            continue
        for i, (node, _, _) in enumerate(regions):
            if _inside(op.span, node):
                cost[i] += op_ebpf_instructions(program, op)
                break
    i = max(range(len(regions)), key=lambda j: cost[j]) if regions else -1
    if i < 0:
        where, words = Span(1, 1), "the program"
    else:
        _, where, words = regions[i]
    share = f"; {words} makes about {int(cost[i]):,} of them" if i >= 0 else ""
    return [Diagnostic.at(path, where,
                          f"this program compiles to about {total:,} eBPF instructions{share}; "
                          f"at most {MAX_PROGRAM_INSNS:,} are allowed (half the kernel's jump "
                          f"range of {MAX_JUMP_INSNS:,} instructions, for the estimate's error "
                          f"and clang's compile time): lower the loop's bound, move work out of "
                          f"loops, or split the program")]


def _stack(checked: Checked, program: Program, path: str) -> list[Diagnostic]:
    worst: tuple[int, str] | None = None
    for _, op in program.ops():
        nbytes = map_call_stack_bytes(program, op)
        if worst is None or nbytes > worst[0]:
            worst = (nbytes, op.attrs.get("state", ""))
    if worst is None or worst[0] + STACK_RESERVE_BYTES <= MAX_STACK_BYTES:
        return []
    nbytes, name = worst
    return [Diagnostic.at(path, _decl_span(checked, name),
                          f"a key and value of '{name}' take {nbytes:,} bytes of the eBPF "
                          f"stack; with what the code needs besides ({STACK_RESERVE_BYTES} bytes)"
                          f" that is over the kernel's {MAX_STACK_BYTES}-byte stack: use "
                          f"at most {MAX_STACK_BYTES - STACK_RESERVE_BYTES} bytes of key and "
                          f"value (split the value over two states)")]
