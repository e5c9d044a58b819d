"""What the one eBPF C emitter (:mod:`cora.targets.ebpf.emit`) asks of the kernel hook it
generates for.

A :class:`Hook` is one eBPF program flavour's C-level facts: the entry function and its
context type, the return code of each verdict, how ``pkt.len`` is read, what runs before the
parser, which helper functions the prelude needs and which IR ops the hook cannot express.
Each hook is a peer (:class:`cora.targets.xdp.hook.XdpHook`,
:class:`cora.targets.tc.hook.TcHook`); none inherits another's features. The runtime-level
facts (program type, load flags, test-run frame rules, verdict decoding, attach) live on the
:class:`cora.targets.base.Target` that owns the hook.
"""

from __future__ import annotations

from collections.abc import Mapping

from cora.errors import CoraError

#: Index of each verdict in the per-CPU ``cora_verdicts`` counter array that
#: ``count_verdicts`` builds (the same for every hook, so ``cora stats`` and the kernel
#: engine read one layout). The numbers happen to equal XDP's ``enum xdp_action``.
VERDICT_COUNTER_INDEX: Mapping[str, int] = {"aborted": 0, "drop": 1, "pass": 2, "tx": 3,
                                            "redirect": 4, "multicast": 5}


class Hook:
    """The C-level interface of one eBPF hook (see the module docstring).

    Subclasses set :attr:`name`, :attr:`entry`, :attr:`ctx_type` and :attr:`refused_ops`
    and implement :meth:`verdict_code` and :meth:`pkt_len_expr`; the other methods have
    neutral defaults (nothing before the parser, no prelude helpers, no head adjustment).
    """

    #: the target's name (``xdp``, ``tc``), used in messages
    name: str = "abstract"
    #: name of the generated entry function
    entry: str = ""
    #: C type of the entry function's context argument ``ctx``
    ctx_type: str = ""
    #: IR opcode -> why this hook cannot express it ({} when it runs every op)
    refused_ops: Mapping[str, str] = {}

    def verdict_code(self, verdict: str) -> str:
        """C expression returned for an IR verdict (or ``aborted``) other than ``redirect``."""
        raise NotImplementedError

    def ret_override(self, verdict: str) -> str | None:
        """A whole C ``return`` statement replacing the plain one for an IR ``ret`` op of
        ``verdict``, or None (the default) to return :meth:`verdict_code`."""
        return None

    def pkt_len_expr(self) -> str:
        """C expression of ``pkt.len``: the whole frame's length in bytes."""
        raise NotImplementedError

    def multicast_return(self, group: str, exclude_ingress: bool) -> str:
        """The C ``return`` statement of the ``mcast`` op: send the frame to every port of
        the devmap whose C name is ``group`` (without the ingress port when
        ``exclude_ingress``). Only hooks that can broadcast have one.

        Raises:
            CoraError: this hook cannot multicast.
        """
        raise CoraError(f"the {self.name} target cannot multicast")

    def prelude_helpers(self) -> str:
        """C helper functions on this hook's context that the prelude defines ("" = none)."""
        return ""

    def prologue(self, headers_used: bool) -> list[str]:
        """C statements (one level of indent added by the emitter) after ``data`` and
        ``data_end`` are set and before anything reads the packet; ``headers_used`` says
        whether the program parses headers at all. Default: none."""
        return []

    def adjust_head(self, delta: str) -> str:
        """C call moving the frame's start by ``delta`` bytes (an ``int`` expression; a
        negative one grows the head), returning non-zero on failure. Only hooks that run
        offload shims have one.

        Raises:
            CoraError: this hook cannot move the frame's start.
        """
        raise CoraError(f"the {self.name} target cannot move the frame's start")
