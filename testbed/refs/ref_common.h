/* Shared pieces of the hand-written XDP references in bench/refs/ (for bcc).
 *
 * Each reference has exactly the semantics of its netfuncs/NAME.nf (docs/language.md), but
 * is written the way a kernel engineer would write it by hand: one bounds check per header,
 * only the headers it needs, one map lookup per key with in-place updates through the
 * returned value pointer.
 *
 * Environment (in the .c files that read now()): built with -DCORA_INJECT_ENV, now() reads slot 0 of the array map `cora_env`
 * (the same map, layout and slot that cora's generated code and runtime use under
 * `cora run`: the runtime writes the frame's pcap timestamp in ns there before each frame;
 * see targets/ebpf/emit.py), so a reference and the compiled NF agree exactly on a trace.
 * Without it, now() is bpf_ktime_get_ns(), as a deployed NF.
 */
#ifndef CORA_REF_COMMON_H
#define CORA_REF_COMMON_H

#include <uapi/linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>

/* now(): see REF_NOW_SOURCE in ratelimit.c and firewall.c (bcc rewrites map accesses
 * only in the main file, so the cora_env lookup cannot live in this header). */

/* Whole frame length (pkt.len): only a frame whose linear part holds >= 2,048 bytes can
 * carry fragments (a test run puts 3,520 bytes in the linear part first), so the helper is
 * asked only then; loaded with BPF_F_XDP_HAS_FRAGS like cora's programs. */
static __always_inline u64 ref_pkt_len(struct xdp_md *ctx, void *data, void *data_end)
{
    u64 len = data_end - data;
    return len < 2048 ? len : (u64)bpf_xdp_get_buff_len(ctx);
}

/* One's-complement fold of a plain integer sum into 16 bits (RFC 1071). */
static __always_inline u32 ref_fold(u64 s)
{
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (u32)s;
}

/* Incremental checksum update for a 32-bit field changing from `from` to `to` (both in
 * network order), RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). For UDP (`udp` != 0) a zero
 * checksum (none) stays zero and a computed zero is sent as 0xffff (RFC 768). */
static __always_inline void ref_csum_replace4(u16 *csum, __be32 from, __be32 to, int udp)
{
    u32 cur = bpf_ntohs(*csum);
    if (udp && cur == 0)
        return;
    u32 f = bpf_ntohl(from), t = bpf_ntohl(to);
    u64 s = (u64)(0xffff & ~cur) + (0xffff & ~(f >> 16)) + (0xffff & ~(f & 0xffff))
            + (t >> 16) + (t & 0xffff);
    u32 res = 0xffff & ~ref_fold(s);
    if (udp && res == 0)
        res = 0xffff;
    *csum = bpf_htons((u16)res);
}

/* 5-tuple key: addresses and ports as on the wire, proto, zero padding (16 bytes). */
struct ref_flow {
    __be32 saddr;
    __be32 daddr;
    __be16 sport;
    __be16 dport;
    u8 proto;
    u8 pad[3];
};

#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88a8)

/* The L3 ethertype after at most one 802.1Q/802.1ad tag, and where L3 starts (*l3), as
 * cora's parser reads them (docs/language.md); 0 when the frame is too short for the
 * Ethernet header or the tag (the NFs then see no IPv4). */
static __always_inline __be16 ref_l3(void *data, void *data_end, void **l3)
{
    struct ethhdr *eth = data;
    void *p = data + sizeof(struct ethhdr);

    if (p > data_end)
        return 0;
    __be16 et = eth->h_proto;
    if (et == ETH_P_8021Q_BE || et == ETH_P_8021AD_BE) {
        if (p + 4 > data_end)
            return 0;
        et = *(__be16 *)(p + 2);
        p += 4;
    }
    *l3 = p;
    return et;
}

/* IHL of a valid IPv4 header at l3 (the language's ipv4.valid: 20 bytes present, IHL >= 5,
 * all IHL*4 bytes present; the version is not checked), else 0. */
static __always_inline u32 ref_ipv4_ihl(void *l3, void *data_end)
{
    struct iphdr *ip = l3;

    if ((void *)(ip + 1) > data_end)
        return 0;
    u32 ihl = ip->ihl;
    if (ihl < 5 || l3 + ihl * 4 > data_end)
        return 0;
    return ihl;
}

#endif
