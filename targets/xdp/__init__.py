"""The host-kernel XDP target (``BPF_PROG_TYPE_XDP``): IR -> C for bcc through the one
emitter (:mod:`cora.targets.ebpf.emit`) with the XDP hook (:mod:`cora.targets.xdp.hook`);
attach and detach through rtnetlink (:mod:`cora.targets.xdp.attach`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from cora.compiler.ir import Program
from cora.compiler.ir.text import print_program
from cora.errors import CoraError, EnvironmentProblem
from cora.targets.base import Artifact, Attachment, Target
from cora.targets.ebpf.emit import generate_c
from cora.targets.xdp.hook import (
    BPF_F_XDP_HAS_FRAGS,
    BPF_PROG_TYPE_XDP,
    MAX_XDP_TEST_FRAME_BYTES,
    XDP_VERDICTS,
    XdpHook,
    xdp_test_run_accepts,
)


class XdpTarget(Target):
    """Linux XDP, loaded with bcc: every IR op and state kind, offload shims included."""

    name: ClassVar[str] = "xdp"
    prog_type: ClassVar[int] = BPF_PROG_TYPE_XDP
    max_test_frame_bytes: ClassVar[int] = MAX_XDP_TEST_FRAME_BYTES
    refused_ops: ClassVar[Mapping[str, str]] = XdpHook.refused_ops
    verdicts_need_counters: ClassVar[bool] = False

    def generate(self, program: Program, inject_env: bool = False,
                 count_verdicts: bool = False, frags: bool = True,
                 pass_redirect_ifindex: int | None = None,
                 read_through: frozenset[str] = frozenset(),
                 read_through_from: dict | None = None, live_profile: int = 0,
                 pass_meta_tag: int | None = None, **options: Any) -> Artifact:
        """Generate ``prog.c`` (C for bcc) and ``prog.ir`` (the printed IR).

        Options: ``inject_env``, ``count_verdicts`` (:meth:`Target.generate`); ``frags``
        (default on: multi-buffer aware, loaded with ``BPF_F_XDP_HAS_FRAGS``) and
        ``pass_redirect_ifindex`` (:class:`cora.targets.xdp.hook.XdpHook`);
        ``read_through`` (state names whose lookups fall back to a second map ``<map>_rt``
        on a miss and whose deletes reach it too: state migration, :mod:`cora.runtime.migrate`;
        ``read_through_from``: state name -> old declaration, for a ``_rt`` map of another
        value layout whose entries are converted when taken over); ``live_profile`` (0 = off,
        N: counters of 1 in N packets in ``cora_prof``, :mod:`cora.targets.ebpf.liveprof`);
        ``pass_meta_tag`` (with ``pass_redirect_ifindex``: the u32 handover tag written into
        the XDP metadata of every frame handed on, :class:`cora.targets.xdp.hook.XdpHook`).

        Raises:
            CoraError: an option the xdp target does not have.
        """
        bad = sorted(k for k, v in options.items() if v not in (None, False))
        if bad:
            raise CoraError(f"the xdp target has no option {', '.join(bad)}")
        hook = XdpHook(frags=frags, pass_redirect_ifindex=pass_redirect_ifindex,
                       pass_meta_tag=pass_meta_tag)
        self.check(program)
        c_text, line_map = generate_c(program, hook, inject_env=inject_env,
                                      count_verdicts=count_verdicts,
                                      read_through=read_through,
                                      read_through_from=read_through_from,
                                      live_profile=live_profile)
        return Artifact(self.name, program,
                        {"prog.c": c_text, "prog.ir": print_program(program)},
                        hook.entry, line_map, {"inject_env": inject_env,
                                               "count_verdicts": count_verdicts,
                                               "frags": frags,
                                               "pass_redirect_ifindex": pass_redirect_ifindex,
                                               "pass_meta_tag": pass_meta_tag,
                                               "read_through": sorted(read_through),
                                               "live_profile": live_profile})

    def load_flags(self, artifact: Artifact) -> int:
        """``BPF_F_XDP_HAS_FRAGS`` when ``artifact`` was generated with ``frags``, else 0."""
        return BPF_F_XDP_HAS_FRAGS if artifact.options.get("frags") else 0

    def test_run_accepts(self, frame: bytes) -> bool:
        """14 to 73,152 bytes (:func:`cora.targets.xdp.hook.xdp_test_run_accepts`)."""
        return xdp_test_run_accepts(frame)

    def decode_verdict(self, retval: int, tx_counted: Callable[[], bool]) -> str:
        """The verdict of an ``enum xdp_action`` code (``aborted`` for an unknown one);
        every code names one verdict, so ``tx_counted`` is never called."""
        return XDP_VERDICTS.get(retval, "aborted")

    def attach(self, prog_fd: int, ifname: str, netns: str | None = None,
               mode: str = "native", replace: bool = False, **options: Any) -> Attachment:
        """Attach with rtnetlink (:func:`cora.targets.xdp.attach.attach_xdp`).

        Args:
            mode: ``"native"`` (driver hook) or ``"generic"`` (skb mode).
            replace: replace a program already attached (False refuses).
        Returns:
            a :class:`cora.targets.xdp.attach.XdpAttachment` (its ``prog_id`` is the
            attached program's id).
        Raises:
            EnvironmentProblem: an option the xdp target does not have; see ``attach_xdp``.
        """
        from cora.targets.xdp.attach import XdpAttachment, attach_xdp

        if options:
            raise EnvironmentProblem(f"XDP attach has no option {', '.join(sorted(options))}")
        prog_id = attach_xdp(prog_fd, ifname, netns, mode, replace)
        return XdpAttachment(ifname, netns, mode, prog_id)

    def detach(self, attachment: Attachment, missing_ok: bool = True) -> bool:
        """Detach the program ``attachment`` names, only if it is still the one attached
        (:func:`cora.targets.xdp.attach.detach_xdp`)."""
        from cora.targets.xdp.attach import XdpAttachment, detach_xdp

        prog_id = attachment.prog_id if isinstance(attachment, XdpAttachment) else None
        return detach_xdp(attachment.ifname, attachment.netns, missing_ok, prog_id)
