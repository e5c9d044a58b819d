"""The host-kernel TC target (clsact + cls_bpf direct-action, ``BPF_PROG_TYPE_SCHED_CLS``):
IR -> C for bcc through the one emitter (:mod:`cora.targets.ebpf.emit`) with the tc hook
(:mod:`cora.targets.tc.hook`); attach and detach through rtnetlink
(:mod:`cora.targets.tc.attach`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from cora.compiler.ir import Program
from cora.compiler.ir.text import print_program
from cora.errors import CoraError, EnvironmentProblem
from cora.targets.base import Artifact, Attachment, Target
from cora.targets.ebpf.emit import generate_c
from cora.targets.tc.hook import (
    BPF_PROG_TYPE_SCHED_CLS,
    MAX_TC_TEST_FRAME_BYTES,
    TC_REFUSED_OPS,
    TcHook,
    tc_test_run_accepts,
    tc_verdict,
)


class TcTarget(Target):
    """Linux TC (sched_cls, direct action), loaded with bcc: every IR op and state kind of
    a whole program; offload shim ops are refused (:data:`TC_REFUSED_OPS`)."""

    name: ClassVar[str] = "tc"
    prog_type: ClassVar[int] = BPF_PROG_TYPE_SCHED_CLS
    max_test_frame_bytes: ClassVar[int] = MAX_TC_TEST_FRAME_BYTES
    refused_ops: ClassVar[Mapping[str, str]] = TC_REFUSED_OPS
    verdicts_need_counters: ClassVar[bool] = True

    def generate(self, program: Program, inject_env: bool = False,
                 count_verdicts: bool = False, **options: Any) -> Artifact:
        """Generate ``prog.c`` (C for bcc) and ``prog.ir`` (the printed IR).

        Options: ``inject_env`` and ``count_verdicts`` (:meth:`Target.generate`); with
        ``count_verdicts`` the counters also tell ``tx`` from ``redirect``, which both return
        ``TC_ACT_REDIRECT``.

        Raises:
            CoraError: an option the tc target does not have (``frags``,
                ``pass_redirect_ifindex`` are XDP's), or the program uses shim ops.
        """
        bad = sorted(k for k, v in options.items() if v not in (None, False))
        if bad:
            raise CoraError(f"the tc target has no option {', '.join(bad)} (XDP-only)")
        hook = TcHook()
        self.check(program)
        c_text, line_map = generate_c(program, hook, inject_env=inject_env,
                                      count_verdicts=count_verdicts)
        return Artifact(self.name, program,
                        {"prog.c": c_text, "prog.ir": print_program(program)},
                        hook.entry, line_map, {"inject_env": inject_env,
                                               "count_verdicts": count_verdicts})

    def test_run_accepts(self, frame: bytes) -> bool:
        """What an skb test run takes (:func:`cora.targets.tc.hook.tc_test_run_accepts`)."""
        return tc_test_run_accepts(frame)

    def decode_verdict(self, retval: int, tx_counted: Callable[[], bool]) -> str:
        """The verdict of a TC action (:func:`cora.targets.tc.hook.tc_verdict`)."""
        return tc_verdict(retval, tx_counted)

    def attach(self, prog_fd: int, ifname: str, netns: str | None = None,
               direction: str = "ingress", prio: int = 1, name: str = "cora",
               **options: Any) -> Attachment:
        """Attach as a cls_bpf direct-action filter on the clsact hook
        (:func:`cora.targets.tc.attach.attach_tc`).

        Args:
            direction: ``"ingress"`` (default) or ``"egress"``.
            prio: filter priority (1..65535).
            name: the filter's name.
        Returns:
            a :class:`cora.targets.tc.attach.TcAttachment`.
        Raises:
            EnvironmentProblem: an option the tc target does not have; see ``attach_tc``.
        """
        from cora.targets.tc.attach import attach_tc

        if options:
            raise EnvironmentProblem(f"tc attach has no option {', '.join(sorted(options))}")
        return attach_tc(prog_fd, ifname, netns, direction, prio, name)

    def detach(self, attachment: Attachment, missing_ok: bool = True) -> bool:
        """Remove the filter (:func:`cora.targets.tc.attach.detach_tc`).

        Raises:
            CoraError: ``attachment`` is not a tc attachment.
        """
        from cora.targets.tc.attach import TcAttachment, detach_tc

        if not isinstance(attachment, TcAttachment):
            raise CoraError(f"the tc target cannot detach {attachment!r}")
        return detach_tc(attachment, missing_ok)
