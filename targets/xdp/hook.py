"""The XDP hook (``BPF_PROG_TYPE_XDP``): what the eBPF C emitter and the runtime need to know
about it, in one place.

C level (:class:`XdpHook`, used by :mod:`cora.targets.ebpf.emit`): context ``struct xdp_md``;
verdicts are ``enum xdp_action`` codes (include/uapi/linux/bpf.h); ``pkt.len`` is the whole
frame even past the linear part when built with ``frags`` (``bpf_xdp_get_buff_len``, called
only when the linear part holds 2,048 bytes or more); offload shims move the frame's start
with ``bpf_xdp_adjust_head``; ``pass_redirect_ifindex`` turns every ``ret pass`` into
``bpf_redirect(ifindex, 0)`` (an emulated NIC stage handing frames to the host). Headers are
always within the linear part (at most 14 + 4 + 60 + 60 bytes), so nothing runs before the
parser.

Test-run frame rules (BPF_PROG_TEST_RUN of an XDP program, net/bpf/test_run.c,
``bpf_prog_test_run_xdp``): :data:`MIN_XDP_FRAME_BYTES` to :data:`MAX_XDP_TEST_FRAME_BYTES`.
"""

from __future__ import annotations

from collections.abc import Mapping

from cora.targets.ebpf.hook import Hook

#: Entry function of every generated XDP program.
ENTRY = "cora_xdp"
#: include/uapi/linux/bpf.h ``enum bpf_prog_type``
BPF_PROG_TYPE_XDP = 6
#: prog_flags bit: the XDP program handles multi-buffer frames (include/uapi/linux/bpf.h)
BPF_F_XDP_HAS_FRAGS = 1 << 5
#: ``bpf_redirect_map`` flags (include/uapi/linux/bpf.h, Linux 5.13): send to every device of
#: the map; leave out the device the frame arrived on
BPF_F_BROADCAST = 1 << 3
BPF_F_EXCLUDE_INGRESS = 1 << 4
#: include/uapi/linux/bpf.h ``enum xdp_action``, by cora verdict
XDP_CODES: Mapping[str, int] = {"aborted": 0, "drop": 1, "pass": 2, "tx": 3, "redirect": 4}
#: XDP action -> cora verdict (the inverse of :data:`XDP_CODES`)
XDP_VERDICTS: Mapping[int, str] = {code: verdict for verdict, code in XDP_CODES.items()}

#: Shortest frame an XDP test run accepts (an Ethernet header, ETH_HLEN).
MIN_XDP_FRAME_BYTES = 14
#: Bytes of a test-run frame an XDP program sees by direct packet access (``data_end -
#: data``): one 4 KiB page minus XDP_PACKET_HEADROOM (256) minus the aligned
#: ``struct skb_shared_info`` tailroom (320) (net/bpf/test_run.c, ``bpf_prog_test_run_xdp``).
#: Longer frames go on in fragments that only helpers see (``bpf_xdp_get_buff_len``,
#: ``bpf_xdp_load_bytes``). Measured on this machine's Linux 6.18.
MAX_XDP_LINEAR_BYTES = 3520
#: Longest frame an XDP test run accepts: the linear part plus MAX_SKB_FRAGS (17) pages
#: (include/linux/skbuff.h); longer ones fail with EINVAL. Measured here: 73,152 bytes.
MAX_XDP_TEST_FRAME_BYTES = MAX_XDP_LINEAR_BYTES + 17 * 4096


def xdp_test_run_accepts(frame: bytes) -> bool:
    """Whether an XDP test run takes ``frame``: at least an Ethernet header
    (:data:`MIN_XDP_FRAME_BYTES`) and at most :data:`MAX_XDP_TEST_FRAME_BYTES`."""
    return MIN_XDP_FRAME_BYTES <= len(frame) <= MAX_XDP_TEST_FRAME_BYTES


_PKT_LEN_HELPER = r"""
/* Whole frame length. Only a frame whose linear part is (nearly) full can carry fragments
   (a test-run or multi-buffer frame puts 3,520 bytes in the linear part before any
   fragment), so the helper call is skipped for ordinary frames. */
static __always_inline u32 cora_pkt_len(struct xdp_md *ctx, void *data, void *data_end) {
    u32 len = data_end - data;
    return len < 2048 ? len : (u32)bpf_xdp_get_buff_len(ctx);
}
"""


class XdpHook(Hook):
    """The XDP hook's C (see the module docstring).

    Args:
        frags: multi-buffer aware (``pkt.len`` past the linear part; loaded with
            :data:`BPF_F_XDP_HAS_FRAGS`).
        pass_redirect_ifindex: redirect every ``ret pass`` to this interface index instead
            (None: ``XDP_PASS``).
        pass_meta_tag: with ``pass_redirect_ifindex``, write this u32 into 4 bytes of XDP
            metadata (``bpf_xdp_adjust_meta``) in front of every frame handed on, so the next
            stage can tell which program version ran it (the lock-step handover of a plan
            change, :mod:`cora.runtime.handover`); a frame without room for it is aborted.
            None: no metadata.
    """

    name = "xdp"
    entry = ENTRY
    ctx_type = "struct xdp_md"
    refused_ops: Mapping[str, str] = {}

    def __init__(self, frags: bool = True, pass_redirect_ifindex: int | None = None,
                 pass_meta_tag: int | None = None):
        self.frags = frags
        self.pass_redirect_ifindex = pass_redirect_ifindex
        self.pass_meta_tag = pass_meta_tag

    def verdict_code(self, verdict: str) -> str:
        """The ``enum xdp_action`` code of ``verdict`` (:data:`XDP_CODES`)."""
        return str(XDP_CODES[verdict])

    def ret_override(self, verdict: str) -> str | None:
        """``ret pass`` with ``pass_redirect_ifindex``: redirect to that interface."""
        if verdict == "pass" and self.pass_redirect_ifindex is not None:
            redirect = (f"return bpf_redirect({int(self.pass_redirect_ifindex)}, 0); "
                        "/* pass: to the host */")
            if self.pass_meta_tag is None:
                return redirect
            aborted = XDP_CODES["aborted"]
            return ("{ if (bpf_xdp_adjust_meta(ctx, -4)) return " + str(aborted) + "; "
                    "void *cora_m = (void *)(long)ctx->data_meta; "
                    "if (cora_m + 4 > (void *)(long)ctx->data) return " + str(aborted) + "; "
                    f"*(u32 *)cora_m = {int(self.pass_meta_tag) & 0xFFFFFFFF}u; /* handover "
                    "tag */ " + redirect + " }")
        return None

    def pkt_len_expr(self) -> str:
        """The whole frame with ``frags`` (``cora_pkt_len``), else the linear part."""
        return "cora_pkt_len(ctx, data, data_end)" if self.frags else "(u32)(data_end - data)"

    def prelude_helpers(self) -> str:
        """``cora_pkt_len`` (whole frame length on ``struct xdp_md``)."""
        return _PKT_LEN_HELPER

    def multicast_return(self, group: str, exclude_ingress: bool) -> str:
        """``return bpf_redirect_map(group, 0, BPF_F_BROADCAST [| BPF_F_EXCLUDE_INGRESS])``
        (Linux 5.13+, include/uapi/linux/bpf.h: with ``BPF_F_BROADCAST`` the key is ignored
        and the frame is cloned to every device in the map; returns ``XDP_REDIRECT``)."""
        flags = BPF_F_BROADCAST | (BPF_F_EXCLUDE_INGRESS if exclude_ingress else 0)
        return f"return {group}.redirect_map(0, {flags});"

    def adjust_head(self, delta: str) -> str:
        """``bpf_xdp_adjust_head(ctx, delta)``."""
        return f"bpf_xdp_adjust_head(ctx, {delta})"
