"""The host-kernel XDP target: IR -> C for bcc (see :mod:`cora.targets.ebpf.emit`)."""

from __future__ import annotations

from cora.compiler.ir import Program
from cora.compiler.ir.text import print_program
from cora.targets.base import Artifact, Target
from cora.targets.ebpf.emit import ENTRY, generate_c


class XdpTarget(Target):
    """Linux XDP, loaded with bcc: every IR op and state kind is supported."""

    name = "xdp"

    def unsupported(self, program: Program) -> list[str]:
        """XDP runs every IR program (the verifier accepts what the generator emits)."""
        return []

    def generate(self, program: Program, inject_env: bool = False, count_verdicts: bool = False,
                 frags: bool = True, pass_redirect_ifindex: int | None = None) -> Artifact:
        """Generate ``prog.c`` (C for bcc) and ``prog.ir`` (the printed IR).

        Options: see :mod:`cora.targets.ebpf.emit`.
        """
        c_text, line_map = generate_c(program, inject_env=inject_env,
                                      count_verdicts=count_verdicts, frags=frags,
                                      pass_redirect_ifindex=pass_redirect_ifindex)
        return Artifact("xdp", program, {"prog.c": c_text, "prog.ir": print_program(program)},
                        ENTRY, line_map, {"inject_env": inject_env,
                                          "count_verdicts": count_verdicts, "frags": frags,
                                          "pass_redirect_ifindex": pass_redirect_ifindex})
