// A Vegas-like congestion control as a BPF struct_ops tcp_congestion_ops: the testbed's
// delay-based baseline (this kernel is built without tcp_vegas and loads no modules).
//
// TCP Vegas (Brakmo & Peterson, "TCP Vegas: end to end congestion avoidance on a global
// Internet", IEEE JSAC 13(8), 1995), as in the simulator's cora.certify.baselines.VegasLike:
// once per round trip, with BaseRTT the smallest RTT sample seen and RTT the smallest sample
// of the round, diff = cwnd * (RTT - BaseRTT) / RTT packets are queued; cwnd + 1 if
// diff < alpha = 2, cwnd - 1 if diff > beta = 4. Slow start (the kernel's tcp_slow_start)
// while cwnd < ssthresh and diff <= gamma = 1, then ssthresh = cwnd. Loss: Reno's halving
// (tcp_reno_ssthresh), as Linux's tcp_vegas does. The name is set by the loader (-DCC_NAME).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char _license[] SEC("license") = "GPL";

#ifndef CC_NAME
#define CC_NAME vegas_like
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

#define ALPHA 2
#define BETA 4
#define GAMMA 1

extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;
extern __u32 tcp_slow_start(struct tcp_sock *tp, __u32 acked) __ksym;

struct vegas_state {
	__u32 base_rtt;   /* smallest RTT sample ever, us */
	__u32 min_rtt;    /* smallest RTT sample of this round, us */
	__u32 cnt_rtt;    /* samples this round */
	__u32 beg_snd_nxt;
};

static __always_inline struct vegas_state *vs(struct sock *sk)
{
	return (struct vegas_state *)((struct inet_connection_sock *)sk)->icsk_ca_priv;
}

SEC("struct_ops")
void BPF_PROG(vl_init, struct sock *sk)
{
	struct vegas_state *v = vs(sk);

	v->base_rtt = 0x7fffffff;
	v->min_rtt = 0x7fffffff;
	v->cnt_rtt = 0;
	v->beg_snd_nxt = ((struct tcp_sock *)sk)->snd_nxt;
}

SEC("struct_ops")
void BPF_PROG(vl_acked, struct sock *sk, const struct ack_sample *sample)
{
	struct vegas_state *v = vs(sk);
	__u32 rtt;

	if (sample->rtt_us <= 0)
		return;
	rtt = sample->rtt_us + 1;
	if (rtt < v->base_rtt)
		v->base_rtt = rtt;
	if (rtt < v->min_rtt)
		v->min_rtt = rtt;
	v->cnt_rtt++;
}

SEC("struct_ops")
void BPF_PROG(vl_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct vegas_state *v = vs(sk);
	__u64 diff;
	__u32 cwnd = tp->snd_cwnd, rtt;

	if ((int)(ack - v->beg_snd_nxt) <= 0) {  /* within the round: slow start only */
		if (cwnd < tp->snd_ssthresh)
			tcp_slow_start(tp, acked);
		return;
	}
	v->beg_snd_nxt = tp->snd_nxt;
	if (v->cnt_rtt < 1) {
		if (cwnd < tp->snd_ssthresh)
			tcp_slow_start(tp, acked);
		return;
	}
	rtt = v->min_rtt;
	diff = (__u64)cwnd * (rtt - v->base_rtt) / rtt;
	if (cwnd < tp->snd_ssthresh) {
		if (diff > GAMMA) {
			tp->snd_ssthresh = cwnd < 2 ? 2 : cwnd;
		} else {
			tcp_slow_start(tp, acked);
		}
	} else if (diff < ALPHA) {
		cwnd++;
	} else if (diff > BETA && cwnd > 2) {
		cwnd--;
	}
	if (cwnd < 2)
		cwnd = 2;
	if (cwnd > tp->snd_cwnd_clamp)
		cwnd = tp->snd_cwnd_clamp;
	if (tp->snd_cwnd >= tp->snd_ssthresh || cwnd < tp->snd_cwnd)
		tp->snd_cwnd = cwnd;
	v->min_rtt = 0x7fffffff;
	v->cnt_rtt = 0;
}

SEC("struct_ops")
__u32 BPF_PROG(vl_ssthresh, struct sock *sk)
{
	return tcp_reno_ssthresh(sk);
}

SEC("struct_ops")
__u32 BPF_PROG(vl_undo_cwnd, struct sock *sk)
{
	return tcp_reno_undo_cwnd(sk);
}

SEC(".struct_ops")
struct tcp_congestion_ops CC_NAME = {
	.init = (void *)vl_init,
	.ssthresh = (void *)vl_ssthresh,
	.cong_avoid = (void *)vl_cong_avoid,
	.undo_cwnd = (void *)vl_undo_cwnd,
	.pkts_acked = (void *)vl_acked,
	.name = STR(CC_NAME),
};
