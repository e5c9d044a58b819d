"""The TC hook (clsact + cls_bpf direct-action, ``BPF_PROG_TYPE_SCHED_CLS``): what the eBPF C
emitter and the runtime need to know about it, in one place.

C level (:class:`TcHook`, used by :mod:`cora.targets.ebpf.emit`):

- the context is ``struct __sk_buff *ctx``; ``ctx->data``/``ctx->data_end`` bound direct
  packet access as in XDP, so every op's C is the same;
- ``pkt.len`` is ``ctx->len`` (the whole frame, linear part and fragments; for a program at
  tc the Ethernet header is included);
- verdicts map to TC actions (include/uapi/linux/pkt_cls.h): ``pass`` -> ``TC_ACT_OK`` (0),
  ``drop`` -> ``TC_ACT_SHOT`` (2), ``tx`` -> ``bpf_redirect(ctx->ifindex, 0)`` (egress of the
  device the frame arrived on: the tc analogue of ``XDP_TX``), ``redirect(port)`` ->
  ``bpf_redirect(port, 0)`` (both return ``TC_ACT_REDIRECT``, 7); ``aborted`` (only the
  cannot-happen failure of the ``cora_env`` lookup) -> ``TC_ACT_SHOT``;
- a frame whose headers are not all in the linear part (an skb may keep them in page
  fragments) is first made linear up to :data:`PULL_BYTES` with ``bpf_skb_pull_data``, and
  ``data``/``data_end`` are re-derived (the helper invalidates packet pointers);
- offload shims (``shim.push``/``shim.pop``) are refused: they move the frame's start with
  ``bpf_xdp_adjust_head``, and the tc target runs whole programs.

Decoding (:func:`tc_verdict`): ``TC_ACT_REDIRECT`` is both ``tx`` and ``redirect``; the
program's verdict counters tell them apart. Test-run frame rules: :func:`tc_test_run_accepts`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cora.targets.ebpf.hook import Hook

#: Entry function of every generated tc program.
ENTRY = "cora_tc"
#: include/uapi/linux/bpf.h ``enum bpf_prog_type``: a tc classifier (cls_bpf)
BPF_PROG_TYPE_SCHED_CLS = 3
#: TC actions (include/uapi/linux/pkt_cls.h) for the fixed verdicts.
TC_ACT_OK = 0
TC_ACT_SHOT = 2
TC_ACT_REDIRECT = 7
TC_CODES: Mapping[str, int] = {"pass": TC_ACT_OK, "drop": TC_ACT_SHOT, "aborted": TC_ACT_SHOT}
#: TC action -> cora verdict, for the actions that name one verdict (TC_ACT_REDIRECT is
#: both ``tx`` and ``redirect``, see :func:`tc_verdict`).
TC_VERDICTS: Mapping[int, str] = {TC_ACT_OK: "pass", TC_ACT_SHOT: "drop"}
#: Bytes made linear before parsing: the most the parser and header ops read from the frame
#: start (Ethernet 14 + VLAN tag 4 + IPv4 with options 60 + TCP with options 60).
PULL_BYTES = 14 + 4 + 60 + 60
#: IR ops the tc hook cannot express, and why.
TC_REFUSED_OPS: Mapping[str, str] = {
    **{op: "offload shims are XDP-only (bpf_xdp_adjust_head); the tc target runs whole "
           "programs" for op in ("shim.push", "shim.pop")},
    # docs/language.md, "Multicast": a group is a devmap, which only XDP programs can send
    # to (bpf_redirect_map); a tc program cannot read its ports, so a per-port
    # bpf_clone_redirect loop would need a second map kept in step with it
    "mcast": "multicast is XDP-only: a group is a devmap, and only XDP's "
             "bpf_redirect_map(BPF_F_BROADCAST) sends to one; compile for --target xdp"}

#: Longest frame an skb (sched_cls) test run accepts: one 4 KiB page minus NET_SKB_PAD (64)
#: headroom minus the aligned struct skb_shared_info (320) (net/bpf/test_run.c,
#: bpf_test_init). Measured on this machine's Linux 6.18: 3,712 bytes run, 3,713 get EINVAL.
MAX_TC_TEST_FRAME_BYTES = 3712
#: Shortest frame an skb test run accepts per EtherType: the kernel pulls the IPv4 (20
#: bytes) or IPv6 (40 bytes) header after the Ethernet header and refuses the frame with
#: EINVAL when it is not there (net/bpf/test_run.c, bpf_prog_test_run_skb). Measured on this
#: machine's Linux 6.18: 0x0800 needs 34 bytes, 0x86dd 54, every other EtherType (VLAN tags
#: included) 14. One frame of the 215 tcpdump captures is refused for this (33 bytes, IPv4).
MIN_TC_TEST_FRAME_BYTES: Mapping[int, int] = {0x0800: 34, 0x86DD: 54}


def tc_test_run_accepts(frame: bytes) -> bool:
    """Whether BPF_PROG_TEST_RUN of a sched_cls program accepts ``frame`` (bytes): at least
    14 bytes, at most :data:`MAX_TC_TEST_FRAME_BYTES`, and the IPv4/IPv6 header there when
    the EtherType says so (:data:`MIN_TC_TEST_FRAME_BYTES`)."""
    if not 14 <= len(frame) <= MAX_TC_TEST_FRAME_BYTES:
        return False
    return len(frame) >= MIN_TC_TEST_FRAME_BYTES.get(int.from_bytes(frame[12:14], "big"), 14)


def tc_verdict(retval: int, tx_counted: Callable[[], bool]) -> str:
    """The cora verdict of a tc program's TC action ``retval``.

    Args:
        retval: the program's return value (a ``TC_ACT_*``).
        tx_counted: asked only for ``TC_ACT_REDIRECT``: whether the program's ``tx``
            verdict counter rose during this run (then ``tx``, else ``redirect``).
    Returns:
        pass | drop | tx | redirect, or ``aborted`` for any other action.
    """
    if retval != TC_ACT_REDIRECT:
        return TC_VERDICTS.get(retval, "aborted")
    return "tx" if tx_counted() else "redirect"


class TcHook(Hook):
    """The tc hook's C (see the module docstring)."""

    name = "tc"
    entry = ENTRY
    ctx_type = "struct __sk_buff"
    refused_ops = TC_REFUSED_OPS

    def verdict_code(self, verdict: str) -> str:
        """The TC action (or the ``bpf_redirect`` call for ``tx``) returned for ``verdict``."""
        if verdict == "tx":
            return "bpf_redirect(ctx->ifindex, 0)"
        return str(TC_CODES[verdict])

    def pkt_len_expr(self) -> str:
        """``skb->len``: the whole frame including the Ethernet header."""
        return "ctx->len"

    def prologue(self, headers_used: bool) -> list[str]:
        """Pull the header bytes into the linear part when they are not all there."""
        if not headers_used:
            return []
        return [f"if (data + {PULL_BYTES} > data_end && ctx->len > (u32)(data_end - data)) {{",
                f"    bpf_skb_pull_data(ctx, ctx->len < {PULL_BYTES} ? ctx->len : "
                f"{PULL_BYTES});",
                "    data = (void *)(long)ctx->data; data_end = (void *)(long)ctx->data_end;",
                "}"]
