/* Hand-written reference for netfuncs/flowcount.nf (issue 2, section 7), for bcc.
 *
 * Semantics, exactly:
 *   - frames that are not Ethernet + IPv4 (ethertype 0x0800 right after the 14-byte
 *     Ethernet header; no VLAN parsing) pass uncounted;
 *   - an IPv4 header with fewer than 20 bytes in the frame, or IHL < 5, passes uncounted;
 *   - a non-zero fragment offset passes uncounted;
 *   - TCP needs its 20-byte header complete after IHL*4 bytes of IPv4 header, UDP its
 *     8 bytes, else the frame passes uncounted; other protocols pass uncounted;
 *   - counted frames update the hash map `flows` (65,536 entries):
 *     key (saddr, daddr, sport, dport, proto) -> value (packets, bytes), bytes being the
 *     whole frame length; when the map is full a new flow is not counted;
 *   - every frame passes.
 *
 * Written for speed: one bounds check covers Ethernet + the fixed IPv4 header, addresses
 * and ports are copied with two wide loads, one hash lookup per counted frame with an
 * in-place update through the returned pointer; a missing flow is inserted with
 * BPF_NOEXIST, and only if that insert fails (another CPU inserted the same flow first, or
 * the map is full) a second lookup decides. Counters use atomic adds so concurrent CPUs
 * never lose counts, unless compiled with -DREF_PLAIN_ADD (single-writer variant, shown
 * side by side in bench/ref_flowcount.py).
 *
 * Frame length: XDP's direct packet access sees only the linear part of a frame; a test
 * run puts bytes beyond 3,520 (one page minus XDP headroom and skb_shared_info tailroom)
 * into fragments, so `data_end - data` would undercount large frames. Such a frame's
 * linear part is full, so only when it is at least 2,048 bytes is the whole length asked
 * of bpf_xdp_get_buff_len() (Linux >= 5.18; the helper costs ~5 ns, measured); drivers
 * never hand multi-buffer frames to a program loaded without BPF_F_XDP_HAS_FRAGS.
 *
 * Key layout: struct ref_flow (ref_common.h): saddr and daddr as on the wire (network
 * byte order), sport and dport as on the wire, proto, three zero bytes of padding (16
 * bytes, no holes left uninitialised).
 */
#include "ref_common.h"

struct flow_val {
    u64 packets;
    u64 bytes;
};

BPF_HASH(flows, struct ref_flow, struct flow_val, 65536);

#ifdef REF_PLAIN_ADD
#define ADD(p, n) (*(p) += (n))
#else
#define ADD(p, n) __sync_fetch_and_add((p), (n))
#endif

int ref_flowcount(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = data + sizeof(struct ethhdr);

    if ((void *)(ip + 1) > data_end)          /* Ethernet + 20-byte IPv4 header */
        return XDP_PASS;
    if (eth->h_proto != htons(ETH_P_IP))
        return XDP_PASS;
    u32 ihl = ip->ihl;
    if (ihl < 5)
        return XDP_PASS;
    if (ip->frag_off & htons(0x1fff))          /* fragment offset, not the flags */
        return XDP_PASS;

    void *l4 = (void *)ip + ihl * 4;
    u8 proto = ip->protocol;
    if (proto == IPPROTO_TCP) {
        if (l4 + 20 > data_end)
            return XDP_PASS;
    } else if (proto == IPPROTO_UDP) {
        if (l4 + 8 > data_end)
            return XDP_PASS;
    } else {
        return XDP_PASS;
    }

    struct ref_flow key;
    __builtin_memcpy(&key.saddr, &ip->saddr, 8);     /* saddr, daddr */
    __builtin_memcpy(&key.sport, l4, 4);             /* sport, dport */
    *(u32 *)&key.proto = proto;                      /* proto + zero padding */

    u64 len = data_end - data;
    if (len >= 2048)                                 /* may carry fragments */
        len = bpf_xdp_get_buff_len(ctx);
    struct flow_val *v = flows.lookup(&key);
    if (v) {
        ADD(&v->packets, 1);
        ADD(&v->bytes, len);
        return XDP_PASS;
    }
    struct flow_val init = { .packets = 1, .bytes = len };
    if (flows.insert(&key, &init) == 0)              /* BPF_NOEXIST */
        return XDP_PASS;
    v = flows.lookup(&key);                          /* lost a race, or the map is full */
    if (v) {
        ADD(&v->packets, 1);
        ADD(&v->bytes, len);
    }
    return XDP_PASS;
}
