"""IR passes: small, semantics-preserving rewrites of a :class:`~cora.compiler.ir.Program`.

Each pass is a frozen dataclass subclassing :class:`~cora.compiler.passes.base.ModulePass`
with a ``name`` and ``apply(program) -> None`` that rewrites the program in place (layout after
xDSL's ``ModulePass``), one module per pass, registered with ``@register_pass``.
:data:`PASSES` maps names to classes; :func:`run_pipeline` runs named passes and, by default,
the IR verifier after each one; :func:`run_default` runs the default pipeline to a fixed
point.

"Semantics-preserving" means: on every frame and state, the reference interpreter gives the
same verdict, redirect port, output frame and state (``dump_state``) before and after, and
``rand`` draws the same sequence. The set of touched keys may shrink (a dead lookup on a
``hash``/``lpm``/array state is removed).

Passes:

- ``const-fold``: registers assigned exactly once program-wide by a ``const`` are constants;
  arithmetic, comparisons, ``not``, ``zext``, ``trunc`` and ``mov`` with constant operands
  become ``const`` (each op's :attr:`~cora.compiler.ir.ops.OpDef.fold`, functions of
  :mod:`cora.compiler.ir.semantics` that the interpreter runs too), ``select`` with a constant
  condition becomes ``mov``, and ``br`` on a constant becomes ``jmp``.
- ``simplify-cfg``: ``br c, L, L`` becomes ``jmp L``; blocks unreachable from the entry are
  removed; a block whose only predecessor ends in ``jmp`` to it is merged into it.
- ``short-circuit``: ``br`` on an ``and``/``or``/``not`` of one-bit flags used by nothing
  else becomes branches on the flags (``a || b``: ``br a`` then ``br b``), and the pure ops
  only the second flag needs move to the block that tests it
  (:mod:`cora.compiler.passes.short_circuit`).
- ``branch-thread``: an edge into a block that only branches on a flag known along the edge
  (a constant assigned on the way, or the condition of a ``br`` passed) goes straight to the
  branch's target (:mod:`cora.compiler.passes.branch_thread`).
- ``jump-thread``: edges into an empty block (just ``jmp L``) go straight to ``L``.
- ``lookup-share``: a ``map.lookup`` of a key already looked up on every path to it, with
  no ``map.update``/``map.delete`` of the state between (nor, on an ``lru_hash``, a lookup
  of another key), reuses the reference (``mov``); ``ref.found`` of a reference whose
  found-ness a branch on the way decided becomes ``const``
  (:mod:`cora.compiler.passes.map_lookup`).
- ``lookup-merge``: a lookup at a join whose key (through copies) was looked up on some of
  the incoming edges reuses those references (``mov``) and is done at the end of the other
  edges instead (partial redundancy elimination; :mod:`cora.compiler.passes.map_lookup`).
  Keys match through copies in every map pass (``%a = mov %b`` makes them equal).
- ``update-in-place``: a ``map.update`` whose key's lookup is available writes the values
  through the reference (``ref.store`` per field, result 1) when it holds an entry, and
  updates only when it does not (:mod:`cora.compiler.passes.map_lookup`).
- ``atomic-add``: ``ref.load``, ``add`` and ``ref.store`` of one 32/64-bit value field whose
  old value is otherwise unused become ``atomic_add`` (``__sync_fetch_and_add``; the only map
  value update the Agilio offload accepts) (:mod:`cora.compiler.passes.atomic_add`).
- ``atomic-init``: a ``map.update`` storing a maybe non-zero value into an atomic counter
  field stores 0 there, then looks the key up and adds the value atomically (the Agilio
  offload requires atomic counters to be inserted as zero) (same module). Not in the default
  pipeline: it costs a lookup on the insert path and only a NIC stage needs it, so
  :func:`cora.compiler.offload.split.split` runs it on the NIC stage's program (the stage
  models charge its lowering: ``StageModel.zero_init_atomic``).
- ``sink-now``: ``%t = now()`` moves into the successors where ``%t`` is live (each with
  that block as its only predecessor), so paths that do not use the time do not read the
  clock and a stage without a clock (the Agilio) can run them
  (:mod:`cora.compiler.passes.sink_now`).
- ``dce``: removes ops without side effects whose destination is never used anywhere, until
  none is left, and registers no op mentions. Kept always: ops whose definition says
  ``side_effect`` (terminators, ``hdr.store``, ``ref.store``, ``map.update``, ``map.delete``,
  ``shim.push``, ``rand``, which advances the generator) and ``map.lookup`` on an
  ``lru_hash`` (refreshes recency): :func:`cora.compiler.ir.ops.has_side_effect`.
"""

from __future__ import annotations

from collections.abc import Sequence

from cora.compiler.ir import Program
from cora.compiler.ir.ops import SIDE_EFFECT_OPS, has_side_effect
from cora.compiler.ir.text import print_program
from cora.compiler.passes.atomic_add import AtomicAdd, AtomicInit
from cora.compiler.passes.base import PASSES, ModulePass, register_pass, run_pipeline
from cora.compiler.passes.branch_thread import BranchThreading
from cora.compiler.passes.const_fold import ConstantFolding
from cora.compiler.passes.dce import DeadCodeElimination
from cora.compiler.passes.jump_thread import JumpThreading
from cora.compiler.passes.map_lookup import LookupMerge, LookupSharing, UpdateInPlace
from cora.compiler.passes.short_circuit import ShortCircuit
from cora.compiler.passes.simplify_cfg import SimplifyCFG
from cora.compiler.passes.sink_now import SinkNow

#: the default pipeline, run to a fixed point by :func:`run_default`.
#: (``short-circuit`` after ``sink-now``: a split ``a || b`` gives the block after it two
#: predecessors, past which ``sink-now`` cannot move the clock read)
DEFAULT_PIPELINE: Sequence[str] = ("const-fold", "branch-thread", "simplify-cfg",
                                   "lookup-share", "lookup-merge", "update-in-place",
                                   "atomic-add", "jump-thread", "simplify-cfg", "sink-now",
                                   "short-circuit", "dce")


def run_default(program: Program, verify_each: bool = False, max_rounds: int = 8) -> None:
    """Run :data:`DEFAULT_PIPELINE` repeatedly until the printed program stops changing (at
    most ``max_rounds`` rounds). Raises IRError as :func:`run_pipeline`."""
    before = print_program(program)
    for _ in range(max_rounds):
        run_pipeline(program, DEFAULT_PIPELINE, verify_each=verify_each)
        after = print_program(program)
        if after == before:
            return
        before = after


__all__ = ["AtomicAdd", "AtomicInit", "BranchThreading", "ConstantFolding", "DEFAULT_PIPELINE",
           "DeadCodeElimination", "JumpThreading", "LookupMerge", "LookupSharing", "ModulePass",
           "PASSES", "SIDE_EFFECT_OPS", "ShortCircuit", "SimplifyCFG", "SinkNow",
           "UpdateInPlace", "has_side_effect", "register_pass", "run_default", "run_pipeline"]
