"""Export a policy as a BPF struct_ops ``tcp_congestion_ops`` in fixed point, certified again.

What :func:`export` writes into the output directory:

- ``<name>.bpf.c``: the controller in C (below), weights as Q16 ``static const`` arrays;
- ``vmlinux.h``: ``bpftool btf dump file /sys/kernel/btf/vmlinux format c``;
- ``<name>.bpf.o``: ``clang -target bpf -O2 -g`` of the C file (unless ``compile_obj=False``);
- ``certificate.json``: the properties re-checked on the *quantized* network (the integer
  program, :mod:`cora.certify.quant`), next to the float network's, and the proven-cell table.

Run-time behaviour of the exported controller (per socket, state in ``icsk_ca_priv`` after
CUBIC's own ``struct bictcp``, checked by a ``_Static_assert``):

- Loss recovery, ssthresh, undo, slow-start bookkeeping: CUBIC's kernel functions
  (``cubictcp_*`` kfuncs, the same as the kernel's selftest ``bpf_cc_cubic.c``), so a loss
  still gives CUBIC's multiplicative decrease (beta = 0.7, RFC 9438).
- ``pkts_acked`` keeps the smallest RTT sample of the round (the standing queue, without
  the queueing of the round's own burst; the fluid model has no bursts), and ``init`` turns
  on the kernel's internal pacing (``SK_PACING_NEEDED``) for the same reason.
- ``cong_avoid``: once per round trip (when ``tp->delivered`` passes the mark set at the
  start of the round) it computes the observation of :mod:`cora.certify.sim` in Q16:
  ``q = round's min RTT sample / min RTT - 1`` (``tp->rtt_min``), ``g = q - q_prev``, ``l = lost /
  (lost + delivered)`` over the round (``tp->lost``, ``tp->delivered``), with the previous
  round's three values, clipped to the domain. It then looks up the cell of the observation in
  the *proven-cell table* (a grid over the 6 features; a cell is proven when every gating
  property -- backoff_delay, backoff_loss, probe -- is proven on the cell's
  intersection with the property's region for the quantized network; see
  ``RUNTIME_PROPERTIES``). In a proven cell it
  runs the integer network and sets ``snd_cwnd = cwnd (1 + a/2)`` or ``cwnd / (1 - a/2)``
  (at least 2, at most ``snd_cwnd_clamp``) and holds it for the round; outside, it uses
  CUBIC's rule (``cubictcp_cong_avoid``) on every ACK of the round: the fallback.
- Every round's observation (Q16, as the network would see it), the cell's verdict and
  ``snd_cwnd`` go into the array map ``cora_obs`` (:data:`OBS_LOG_SLOTS` slots, round-robin;
  ``cora_obs_n`` counts the rounds), read by :func:`cora.certify.kernel.observations`: the
  distribution of what the kernel controller observes, compared with the simulator's in
  :mod:`cora.certify.kernelsim`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import numpy as np

from cora.certify.properties import PROPERTIES, check_property
from cora.certify.quant import QuantizedMLP, quantize
from cora.certify.sim import ACTION_GAIN, OBS_HI, OBS_LO
from cora.errors import EnvironmentProblem, InputError

# cell edges per feature (aligned with the property thresholds); same for both history steps
EDGES = {"q": [0.0, 0.05, 0.25, 0.5, 1.0, 2.0, 4.0],
         "g": [-4.0, -0.5, -0.05, 0.05, 0.5, 4.0],
         "l": [0.0, 0.05, 0.1, 0.5]}
# properties that gate the network at run time; ``bounded`` is not among them because the C
# code clamps the action to [-1, 1] (a policy with a clip head has the clamp inside the
# certified network itself, and ``bounded`` is then proven), and ``monotonic``, ``robust``
# and ``queue_safety`` are not pointwise conditions on one observation
RUNTIME_PROPERTIES = ("backoff_delay", "backoff_loss", "probe")
# slots of the observation log (``cora_obs`` array map, written round-robin; the count of
# rounds logged so far is the global ``cora_obs_n``): see :func:`cora.certify.kernel.observations`
OBS_LOG_SLOTS = 4096
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,14}$")


def cells():
    """All cells of the table: ``(lo, hi)`` shaped ``(n_cells, 6)`` in C index order
    ``((((iq*5 + ig)*3 + il)*6 + iq')*5 + ig')*3 + il'``."""
    per = [EDGES["q"], EDGES["g"], EDGES["l"]] * 2
    grids = np.meshgrid(*[np.arange(len(e) - 1) for e in per], indexing="ij")
    idx = np.stack([g.ravel() for g in grids], axis=1)
    lo = np.stack([np.asarray(per[d])[idx[:, d]] for d in range(6)], axis=1)
    hi = np.stack([np.asarray(per[d])[idx[:, d] + 1] for d in range(6)], axis=1)
    return lo, hi


def proven_cells(net, max_depth: int = 2) -> np.ndarray:
    """Which cells are proven for every runtime property (bool ``(n_cells,)``).

    A cell counts as proven for a property when the property's margin upper bound (DeepPoly)
    is <= 0 on the intersection of the cell with the property's region (or the intersection
    is empty/degenerate), trying the whole cell and then up to ``2^max_depth`` bisections
    along the widest dimensions.
    """
    clo, chi = cells()
    ok = np.ones(len(clo), bool)
    for name in RUNTIME_PROPERTIES:
        p = PROPERTIES[name]
        lo, hi = np.maximum(clo, p.lo), np.minimum(chi, p.hi)
        inter = np.all(hi > lo, axis=1)  # volume > 0 (degenerate contact does not count)
        todo = np.nonzero(inter)[0]
        good = _prove_boxes(net, p, lo[todo], hi[todo], max_depth)
        ok[todo[~good]] = False
    return ok


def _prove_boxes(net, prop, lo, hi, depth):
    if len(lo) == 0:
        return np.zeros(0, bool)
    _, vh = prop.check(net, lo, hi, "deeppoly")
    good = vh <= 0
    if depth == 0 or good.all():
        return good
    bad = np.nonzero(~good)[0]
    lb, h = lo[bad], hi[bad]
    d = np.argmax((h - lb) / (OBS_HI - OBS_LO), axis=1)
    r = np.arange(len(bad))
    m = 0.5 * (lb[r, d] + h[r, d])
    h1 = h.copy()
    h1[r, d] = m
    l2 = lb.copy()
    l2[r, d] = m
    g1 = _prove_boxes(net, prop, lb, h1, depth - 1)
    g2 = _prove_boxes(net, prop, l2, h, depth - 1)
    good[bad] = g1 & g2
    return good


def cell_index(x: np.ndarray) -> np.ndarray:
    """Cell index of observations ``(N, 6)`` (clipped to the domain), as the C code does it."""
    x = np.clip(x, OBS_LO, OBS_HI)
    per = [EDGES["q"], EDGES["g"], EDGES["l"]] * 2
    idx = np.zeros(len(x), np.int64)
    for d in range(6):
        e = np.asarray(per[d])
        i = np.clip(np.searchsorted(e[1:-1], x[:, d], side="right"), 0, len(e) - 2)
        idx = idx * (len(e) - 1) + i
    return idx


def _arr(name, values, ctype="int"):
    body = ",".join(str(int(v)) for v in np.asarray(values).ravel())
    return f"static const {ctype} {name}[{np.asarray(values).size}] = {{{body}}};\n"


def _net_c(qnet: QuantizedMLP):
    """C text of the integer network: weight arrays and ``policy(x, &ok)`` (Q16 in/out)."""
    ws, bs = qnet.weights, qnet.biases
    h1 = ws[1].shape[0] if len(ws) == 3 else 0
    weights_c = "".join(_arr(f"W{i}", w, "int") + _arr(f"B{i}", b, "int")
                        for i, (w, b) in enumerate(zip(ws, bs, strict=True)))
    last = len(ws) - 1
    if h1:
        layer1 = """
static long cora_layer1(__u32 i, void *ctx)
{
	struct scratch *s = ((struct loop_ctx *)ctx)->s;
	long long acc = 0;
	int j;

	__u64 row = i;

	barrier_var(row);
	if (row >= H1)
		return 1;
	for (j = 0; j < H0; j++)
		acc += (long long)W1[row * H0 + j] * s->h0[j];
	acc = (acc >> FRAC) + B1[row];
	acc &= ~(acc >> 63);  /* ReLU without a branch */
	s->out += (long long)W2[row] * acc;
	return 0;
}
"""
        out_loop = "bpf_loop(H1, cora_layer1, &lc, 0);"
    else:
        layer1 = """
static long cora_layer1(__u32 i, void *ctx)
{
	struct scratch *s = ((struct loop_ctx *)ctx)->s;

	__u64 row = i;

	barrier_var(row);
	if (row >= H0)
		return 1;
	s->out += (long long)W1[row] * s->h0[row];
	return 0;
}
"""
        out_loop = "bpf_loop(H0, cora_layer1, &lc, 0);"
    if qnet.output == "clip":  # the clip head of the certified network, in integers
        ret = (f"long long a = (s->out >> FRAC) + B{last}[0];\n\treturn a > (1LL << FRAC) ? "
               "(1LL << FRAC) : (a < -(1LL << FRAC) ? -(1LL << FRAC) : a);")
    else:
        ret = f"return (s->out >> FRAC) + B{last}[0];"
    net_body = f"""
struct scratch {{
	int x[N_IN];
	int h0[H0];
	long long out;
}};

struct {{
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
}} cora_scratch SEC(".maps");

struct loop_ctx {{
	struct scratch *s;
}};

static long cora_layer0(__u32 i, void *ctx)
{{
	struct scratch *s = ((struct loop_ctx *)ctx)->s;
	long long acc = 0;
	int j;

	__u64 row = i;

	barrier_var(row);
	if (row >= H0)
		return 1;
	for (j = 0; j < N_IN; j++)
		acc += (long long)W0[row * N_IN + j] * s->x[j];
	acc = (acc >> FRAC) + B0[row];
	acc &= ~(acc >> 63);
	s->h0[row] = acc;
	return 0;
}}
{layer1}
/* the integer network of cora.certify.quant; returns the action in Q16 (0 if no scratch) */
static __always_inline long long policy(const int *x, int *ok)
{{
	__u32 zero = 0;
	struct loop_ctx lc;
	struct scratch *s = bpf_map_lookup_elem(&cora_scratch, &zero);
	int j;

	*ok = 0;
	if (!s)
		return 0;
	for (j = 0; j < N_IN; j++)
		s->x[j] = x[j];
	s->out = 0;
	lc.s = s;
	bpf_loop(H0, cora_layer0, &lc, 0);
	{out_loop}
	*ok = 1;
	{ret}
}}
"""
    return weights_c, net_body


def host_harness_c(qnet: QuantizedMLP) -> str:
    """A user-space C program around the *same* generated network code (``bpf_loop`` and the
    scratch map replaced by plain C): reads 6 Q16 integers per line from stdin, prints the
    Q16 action. Used by the tests to check the C arithmetic against :class:`QuantizedMLP`."""
    ws = qnet.weights
    weights_c, net_body = _net_c(qnet)
    h1 = ws[1].shape[0] if len(ws) == 3 else 1
    return f"""#include <stdio.h>
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(x)
#define __uint(name, val) int name
#define __type(name, val) val *name
#define barrier_var(v) asm volatile("" : "+r"(v))
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define bpf_loop(n, cb, ctx, flags) do {{ __u32 _i; \
for (_i = 0; _i < (n); _i++) if (cb(_i, ctx)) break; }} while (0)
static void *bpf_map_lookup_elem(void *map, const void *key);
#define FRAC {qnet.frac_bits}
#define N_IN 6
#define H0 {ws[0].shape[0]}
#define H1 {h1}
{weights_c}{net_body}
static struct scratch host_scratch;
static void *bpf_map_lookup_elem(void *map, const void *key) {{ return &host_scratch; }}
int main(void)
{{
	int x[N_IN], ok;
	while (scanf("%d %d %d %d %d %d", &x[0], &x[1], &x[2], &x[3], &x[4], &x[5]) == 6)
		printf("%lld\\n", policy(x, &ok));
	return 0;
}}
"""


def render_c(qnet: QuantizedMLP, table: np.ndarray, name: str) -> str:
    """The C source of the controller (see the module docstring)."""
    ws = qnet.weights
    if len(ws) not in (2, 3):
        raise InputError("export supports policies with 1 or 2 hidden layers")
    S = qnet.scale
    h0 = ws[0].shape[0]
    h1 = ws[1].shape[0] if len(ws) == 3 else 0
    q = lambda v: int(round(v * S))  # noqa: E731
    edges_c = ""
    for f, e in EDGES.items():
        edges_c += _arr(f"EDGE_{f.upper()}", [q(v) for v in e[1:-1]], "long long")
    weights_c, net_body = _net_c(qnet)
    gain_q = q(ACTION_GAIN)
    lo_q = [q(v) for v in OBS_LO[:3]]
    hi_q = [q(v) for v in OBS_HI[:3]]
    return f"""// Generated by `cora certify export`: a certified learned congestion controller.
// Policy: {len(ws) - 1} hidden ReLU layer(s), Q{qnet.frac_bits} fixed point. \
See cora/certify/export.py.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char _license[] SEC("license") = "GPL";

#define FRAC {qnet.frac_bits}
#define ONE {S}LL
#define N_IN 6
#define H0 {h0}
#define H1 {max(h1, 1)}
#define GAIN {gain_q}LL
#define Q_LO {lo_q[0]}LL
#define Q_HI {hi_q[0]}LL
#define G_LO ({lo_q[1]}LL)
#define G_HI {hi_q[1]}LL
#define L_LO {lo_q[2]}LL
#define L_HI {hi_q[2]}LL
#define Q_RAW_MAX (64LL << FRAC)

extern void cubictcp_init(struct sock *sk) __ksym;
extern void cubictcp_cwnd_event(struct sock *sk, enum tcp_ca_event event) __ksym;
extern __u32 cubictcp_recalc_ssthresh(struct sock *sk) __ksym;
extern void cubictcp_state(struct sock *sk, __u8 new_state) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;
extern void cubictcp_acked(struct sock *sk, const struct ack_sample *sample) __ksym;
extern void cubictcp_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;

{weights_c}{edges_c}{_arr("PROVEN", table.astype(np.uint8), "unsigned char")}
struct cora_state {{
	int q_raw;            /* previous round's q, Q16, unclipped up to 64 (for the gradient) */
	int prev[3];          /* previous round's (q, g, l), Q16, clipped */
	__u32 round_end;      /* tp->delivered at which this round ends */
	__u32 lost0, deliv0;  /* counters at the start of the round */
	__u32 rtt_min_us;     /* smallest RTT sample of the round */
	__u16 rtt_cnt;
	__u8 mode;            /* 1: network controls this round, 0: CUBIC fallback */
}};

/* rounds decided by the network / by the CUBIC fallback, all sockets (read from .bss) */
__u64 cora_nn_rounds = 0;
__u64 cora_fallback_rounds = 0;
/* rounds logged so far into cora_obs (slot = n % OBS_SLOTS) */
__u64 cora_obs_n = 0;

#define OBS_SLOTS {OBS_LOG_SLOTS}
/* one round's observation as the controller saw it (Q16, clipped), the cell's verdict
   (1: proven, the network decided; 0: CUBIC fallback) and snd_cwnd before the round's action */
struct cora_obs_rec {{
	int x[N_IN];
	int mode;
	__u32 cwnd;
}};

struct {{
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OBS_SLOTS);
	__type(key, __u32);
	__type(value, struct cora_obs_rec);
}} cora_obs SEC(".maps");

struct cora_ca {{
	struct bictcp cubic;  /* CUBIC's state first: cubictcp_* use inet_csk_ca(sk) */
	struct cora_state st;
}};

_Static_assert(sizeof(struct cora_ca) <= sizeof(((struct inet_connection_sock *)0)->icsk_ca_priv),
		"state does not fit in icsk_ca_priv");

static __always_inline struct cora_state *state(struct sock *sk)
{{
	return &((struct cora_ca *)((struct inet_connection_sock *)sk)->icsk_ca_priv)->st;
}}

static __always_inline long long clampll(long long v, long long lo, long long hi)
{{
	return v < lo ? lo : (v > hi ? hi : v);
}}

static __always_inline int bucket(long long v, const long long *edges, int n)
{{
	int i, k = 0;
	for (i = 0; i < n; i++)
		if (v >= edges[i])
			k = i + 1;
	return k;
}}

{net_body}
SEC("struct_ops")
void BPF_PROG(cora_init, struct sock *sk)
{{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct cora_state *st = state(sk);

	cubictcp_init(sk);
	// pace at the kernel's default rate (2x or 1.2x cwnd/srtt) so a window does not leave as one
	// burst: the fluid model the policy was trained and certified on assumes smooth sending
	sk->sk_pacing_status = SK_PACING_NEEDED;
	__builtin_memset(st, 0, sizeof(*st));
	st->round_end = tp->delivered + tp->snd_cwnd;
	st->lost0 = tp->lost;
	st->deliv0 = tp->delivered;
	st->mode = 0;
}}

SEC("struct_ops")
void BPF_PROG(cora_acked, struct sock *sk, const struct ack_sample *sample)
{{
	struct cora_state *st = state(sk);

	cubictcp_acked(sk, sample);
	if (sample->rtt_us > 0) {{
		if (st->rtt_cnt == 0 || (__u32)sample->rtt_us < st->rtt_min_us)
			st->rtt_min_us = sample->rtt_us;
		if (st->rtt_cnt < 0xffff)
			st->rtt_cnt++;
	}}
}}

SEC("struct_ops")
void BPF_PROG(cora_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct cora_state *st = state(sk);
	long long q, g, l, a, cwnd, min_rtt, rtt, lost, deliv;
	int x[N_IN], cell;

	if ((int)(tp->delivered - st->round_end) < 0 || st->rtt_cnt == 0) {{
		if (!st->mode)
			cubictcp_cong_avoid(sk, ack, acked);
		return;
	}}
	/* a round trip has ended: build the observation (Q16) */
	min_rtt = tp->rtt_min.s[0].v;
	if (min_rtt <= 0)
		min_rtt = 1;
	rtt = st->rtt_min_us;
	q = rtt > min_rtt ? (long long)(((__u64)(rtt - min_rtt) << FRAC) / (__u64)min_rtt) : 0;
	q = clampll(q, 0, Q_RAW_MAX);
	g = q - st->q_raw;
	lost = (__u32)(tp->lost - st->lost0);
	deliv = (__u32)(tp->delivered - st->deliv0);
	l = lost + deliv > 0 ? (long long)(((__u64)lost << FRAC) / (__u64)(lost + deliv)) : 0;
	x[0] = clampll(q, Q_LO, Q_HI);
	x[1] = clampll(g, G_LO, G_HI);
	x[2] = clampll(l, L_LO, L_HI);
	x[3] = st->prev[0];
	x[4] = st->prev[1];
	x[5] = st->prev[2];
	cell = bucket(x[0], EDGE_Q, {len(EDGES['q']) - 2});
	cell = cell * {len(EDGES['g']) - 1} + bucket(x[1], EDGE_G, {len(EDGES['g']) - 2});
	cell = cell * {len(EDGES['l']) - 1} + bucket(x[2], EDGE_L, {len(EDGES['l']) - 2});
	cell = cell * {len(EDGES['q']) - 1} + bucket(x[3], EDGE_Q, {len(EDGES['q']) - 2});
	cell = cell * {len(EDGES['g']) - 1} + bucket(x[4], EDGE_G, {len(EDGES['g']) - 2});
	cell = cell * {len(EDGES['l']) - 1} + bucket(x[5], EDGE_L, {len(EDGES['l']) - 2});
	st->mode = 0;
	{{
		__u32 slot = (__u32)(__sync_fetch_and_add(&cora_obs_n, 1) % OBS_SLOTS);
		struct cora_obs_rec *rec = bpf_map_lookup_elem(&cora_obs, &slot);

		if (rec) {{
			int j;

			for (j = 0; j < N_IN; j++)
				rec->x[j] = x[j];
			rec->mode = cell >= 0 && cell < {table.size} && PROVEN[cell];
			rec->cwnd = tp->snd_cwnd;
		}}
	}}
	if (cell >= 0 && cell < {table.size} && PROVEN[cell]) {{
		int ok;

		a = clampll(policy(x, &ok), -ONE, ONE);
		if (!ok)
			goto fallback;
		cwnd = tp->snd_cwnd;
		if (a >= 0)
			cwnd = cwnd + ((cwnd * GAIN * a) >> (2 * FRAC));
		else
			cwnd = (long long)(((__u64)cwnd << (2 * FRAC)) / (__u64)((ONE << FRAC) + GAIN * (-a)));
		if (cwnd < 2)
			cwnd = 2;
		if (cwnd > tp->snd_cwnd_clamp)
			cwnd = tp->snd_cwnd_clamp;
		tp->snd_cwnd = cwnd;
		st->mode = 1;
		__sync_fetch_and_add(&cora_nn_rounds, 1);
	}} else {{
fallback:
		__sync_fetch_and_add(&cora_fallback_rounds, 1);
		cubictcp_cong_avoid(sk, ack, acked);
	}}
	st->q_raw = q;
	st->prev[0] = x[0];
	st->prev[1] = x[1];
	st->prev[2] = x[2];
	st->lost0 = tp->lost;
	st->deliv0 = tp->delivered;
	st->round_end = tp->delivered + tp->snd_cwnd;
	st->rtt_min_us = 0;
	st->rtt_cnt = 0;
}}

SEC("struct_ops")
__u32 BPF_PROG(cora_ssthresh, struct sock *sk)
{{
	return cubictcp_recalc_ssthresh(sk);
}}

SEC("struct_ops")
void BPF_PROG(cora_set_state, struct sock *sk, __u8 new_state)
{{
	cubictcp_state(sk, new_state);
}}

SEC("struct_ops")
void BPF_PROG(cora_cwnd_event, struct sock *sk, enum tcp_ca_event event)
{{
	cubictcp_cwnd_event(sk, event);
}}

SEC("struct_ops")
__u32 BPF_PROG(cora_undo_cwnd, struct sock *sk)
{{
	return tcp_reno_undo_cwnd(sk);
}}

SEC(".struct_ops")
struct tcp_congestion_ops {name} = {{
	.init = (void *)cora_init,
	.ssthresh = (void *)cora_ssthresh,
	.cong_avoid = (void *)cora_cong_avoid,
	.set_state = (void *)cora_set_state,
	.undo_cwnd = (void *)cora_undo_cwnd,
	.cwnd_event = (void *)cora_cwnd_event,
	.pkts_acked = (void *)cora_acked,
	.name = "{name}",
}};
"""


def check_name(name: str) -> str:
    """Validate a congestion-control name (lower-case, <= 15 characters, C identifier)."""
    if not _NAME_RE.match(name):
        raise InputError(f"bad controller name {name!r}: use 1-15 characters [a-z0-9_], "
                         "starting with a letter")
    return name


def vmlinux_header(path: str) -> None:
    """Write ``vmlinux.h`` from the running kernel's BTF (``bpftool btf dump ... format c``)."""
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        raise EnvironmentProblem("no /sys/kernel/btf/vmlinux: the kernel has no BTF")
    if shutil.which("bpftool") is None:
        raise EnvironmentProblem("bpftool not found (apt-get install bpftool)")
    with open(path, "w") as fh:
        r = subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux",
                            "format", "c"], stdout=fh, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        raise EnvironmentProblem(f"bpftool btf dump failed: {r.stderr.strip().splitlines()[-1:]}")


def compile_bpf(src: str, obj: str, include_dir: str | None = None,
                defines: dict | None = None) -> None:
    """``clang -target bpf -O2 -g [-Dk=v ...] -I include_dir -c src -o obj`` (``include_dir``
    defaults to the source's folder, where ``vmlinux.h`` is); raises EnvironmentProblem on
    failure."""
    if shutil.which("clang") is None:
        raise EnvironmentProblem("clang not found (apt-get install clang)")
    defs = [f"-D{k}={v}" for k, v in (defines or {}).items()]
    r = subprocess.run(["clang", "-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86", *defs,
                        "-I", include_dir or os.path.dirname(src), "-c", src, "-o", obj],
                       capture_output=True, text=True)
    if r.returncode:
        err = ([ln for ln in r.stderr.splitlines() if "error" in ln][:1]
               or r.stderr.splitlines()[-1:])
        raise EnvironmentProblem(f"clang failed on {src}: {err[0] if err else 'unknown error'}")


def export(net, out_dir: str, name: str = "cora_cc", compile_obj: bool = True,
           max_boxes: int = 2048) -> dict:
    """Quantize, re-certify and emit the controller (see the module docstring).

    Args:
        net: float ReLU MLP with 6 inputs and 1 output.
        out_dir: created if missing.
        name: congestion control name and struct_ops map name.
    Returns:
        a summary dict (also in ``certificate.json``): per-property certificates of the float
        and the quantized network, the proven-cell fraction, paths.
    Raises:
        InputError: bad name, wrong network shape, tanh network, an Aurora policy.
        EnvironmentProblem: no BTF, bpftool or clang; compile failure.
    """
    check_name(name)
    if net.n_in != 6 or net.n_out != 1:
        raise InputError(f"the policy must map 6 observations to 1 action, "
                         f"got {net.n_in} -> {net.n_out}")
    from cora.certify.baselines import is_aurora
    if is_aurora(net):
        raise InputError("this policy is an Aurora rate agent (its spec says controller "
                         "'aurora'); the kernel controller computes the window policy's "
                         "observation and window rule: only window policies can be exported")
    qnet = quantize(net)
    os.makedirs(out_dir, exist_ok=True)
    certs = {}
    for p in PROPERTIES:
        f = check_property(net, p, max_boxes=max_boxes)
        f.pop("_certificate")
        qq = check_property(qnet, p, max_boxes=max_boxes)
        qq.pop("_certificate")
        certs[p] = {"float": f, "quantized": qq}
    table = proven_cells(qnet)
    src = os.path.join(out_dir, f"{name}.bpf.c")
    with open(src, "w") as fh:
        fh.write(render_c(qnet, table, name))
    np.savez(os.path.join(out_dir, "quantized.npz"),
             **{f"W{i}": w for i, w in enumerate(qnet.weights)},
             **{f"b{i}": b for i, b in enumerate(qnet.biases)}, frac_bits=qnet.frac_bits,
             output=np.array(qnet.output))
    info = {"name": name, "source": src, "frac_bits": qnet.frac_bits,
            "proven_cell_fraction": round(float(table.mean()), 4), "cells": int(table.size),
            "runtime_properties": list(RUNTIME_PROPERTIES), "certificates": certs}
    if compile_obj:
        vmlinux_header(os.path.join(out_dir, "vmlinux.h"))
        obj = os.path.join(out_dir, f"{name}.bpf.o")
        compile_bpf(src, obj)
        info["object"] = obj
    with open(os.path.join(out_dir, "certificate.json"), "w") as fh:
        json.dump(info, fh, indent=1)
    return info


def load_quantized(path: str) -> QuantizedMLP:
    """Read ``quantized.npz`` written by :func:`export`."""
    with np.load(path) as d:
        n = sum(1 for k in d.files if k.startswith("W"))
        return QuantizedMLP([d[f"W{i}"] for i in range(n)], [d[f"b{i}"] for i in range(n)],
                            int(d["frac_bits"]),
                            str(d["output"]) if "output" in d.files else "linear")
