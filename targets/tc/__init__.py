"""The host-kernel TC target (clsact + cls_bpf direct-action, ``BPF_PROG_TYPE_SCHED_CLS``):
IR -> C for bcc (see :mod:`cora.targets.tc.codegen`)."""

from __future__ import annotations

from cora.compiler.ir import Program
from cora.compiler.ir.text import print_program
from cora.errors import CoraError
from cora.targets.base import Artifact, Target
from cora.targets.tc.codegen import ENTRY, generate_c, unsupported_ops


class TcTarget(Target):
    """Linux TC (sched_cls, direct action), loaded with bcc: every IR op and state kind of
    a whole program; offload shim ops are XDP-only."""

    name = "tc"

    def unsupported(self, program: Program) -> list[str]:
        """One line per shim op (the only IR ops tc cannot run), [] otherwise."""
        return unsupported_ops(program)

    def generate(self, program: Program, inject_env: bool = False,
                 count_verdicts: bool = False, **options) -> Artifact:
        """Generate ``prog.c`` (C for bcc) and ``prog.ir`` (the printed IR).

        Options: ``inject_env`` and ``count_verdicts`` as for xdp
        (:mod:`cora.targets.tc.codegen`).

        Raises:
            CoraError: an XDP-only option (``frags``, ``pass_redirect_ifindex``) was set, or
                the program uses shim ops.
        """
        bad = {k: v for k, v in options.items() if v not in (None, False)}
        if bad:
            raise CoraError(f"the tc target has no option {', '.join(sorted(bad))} "
                            "(XDP-only)")
        c_text, line_map = generate_c(program, inject_env=inject_env,
                                      count_verdicts=count_verdicts)
        return Artifact("tc", program, {"prog.c": c_text, "prog.ir": print_program(program)},
                        ENTRY, line_map, {"inject_env": inject_env,
                                          "count_verdicts": count_verdicts})
