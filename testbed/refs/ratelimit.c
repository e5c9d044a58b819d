/* Hand-written reference for netfuncs/ratelimit.nf: a token-bucket policer per IPv4 source.
 *
 * Semantics, exactly as the NF:
 *   - frames without a valid IPv4 header (docs/language.md: ethertype 0x0800 after at most
 *     one 802.1Q/802.1ad tag, 20 bytes present, IHL >= 5, IHL*4 bytes present) pass
 *     uncounted;
 *   - bucket of source S: tokens in nano-bytes (bytes * 1e9) and the last refill time (ns);
 *     a new source starts with BURST; a known one is refilled by min(t - last, FILL_NS) *
 *     RATE (only if t > last), capped at BURST; the stamp never moves backwards;
 *   - a frame costs pkt.len * 1e9; if the bucket holds that much it is taken and the frame
 *     passes (stats[0] += 1), else the frame is dropped (stats[1] += 1) and the bucket keeps
 *     its (refilled) tokens; either way the bucket is written back with the new stamp;
 *   - buckets: LRU hash of 65,536 sources (on_full evict); stats: per-CPU array of 2.
 *
 * Written for speed: one bounds check per header, one LRU lookup per frame and an in-place
 * update of both fields through the value pointer; a new source is one BPF_ANY update.
 * Key: the source address as on the wire.
 */
#include "ref_common.h"

/* now(): the injected pcap timestamp under differential runs (ref_common.h), else the
 * kernel clock. Here, not in the header: bcc rewrites map accesses only in the main file. */
#ifdef CORA_INJECT_ENV
BPF_ARRAY(cora_env, u64, 2);
static __always_inline u64 ref_now(void)
{
    u32 k = 0;
    u64 *v = cora_env.lookup(&k);
    return v ? *v : 0;
}
#else
#define ref_now() bpf_ktime_get_ns()
#endif

#define RATE_BYTES_PER_S 125000ULL
#define NS_PER_S 1000000000ULL
#define BURST_NANOBYTES (15000ULL * NS_PER_S)
#define FILL_NS (BURST_NANOBYTES / RATE_BYTES_PER_S)

struct bucket {
    u64 tokens;
    u64 last_ns;
};

BPF_TABLE("lru_hash", __be32, struct bucket, buckets, 65536);
BPF_PERCPU_ARRAY(stats, u64, 2);

int ref_ratelimit(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    void *l3 = data;

    if (ref_l3(data, data_end, &l3) != bpf_htons(ETH_P_IP) || !ref_ipv4_ihl(l3, data_end))
        return XDP_PASS;
    struct iphdr *ip = l3;

    __be32 src = ip->saddr;
    u64 t = ref_now();
    u64 cost = ref_pkt_len(ctx, data, data_end) * NS_PER_S;
    u32 verdict_stat;
    struct bucket *b = buckets.lookup(&src);
    if (b) {
        u64 tokens = b->tokens, last = b->last_ns, stamp = t;
        if (last > t) {
            stamp = last;
        } else if (t > last) {
            u64 elapsed_ns = t - last;
            if (elapsed_ns > FILL_NS)
                elapsed_ns = FILL_NS;
            tokens += elapsed_ns * RATE_BYTES_PER_S;
            if (tokens > BURST_NANOBYTES)
                tokens = BURST_NANOBYTES;
        }
        verdict_stat = tokens >= cost ? 0 : 1;
        if (verdict_stat == 0)
            tokens -= cost;
        b->tokens = tokens;
        b->last_ns = stamp;
    } else {
        struct bucket nb = { .tokens = BURST_NANOBYTES, .last_ns = t };
        verdict_stat = nb.tokens >= cost ? 0 : 1;
        if (verdict_stat == 0)
            nb.tokens -= cost;
        buckets.update(&src, &nb);
    }
    u64 *c = stats.lookup(&verdict_stat);
    if (c)
        *c += 1;
    return verdict_stat == 0 ? XDP_PASS : XDP_DROP;
}
