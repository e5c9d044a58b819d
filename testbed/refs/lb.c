/* Hand-written reference for netfuncs/lb.nf: one-arm L4 load balancer (NAT mode) with
 * Maglev consistent hashing.
 *
 * Semantics, exactly as the NF:
 *   - frames without valid IPv4 (after at most one 802.1Q/802.1ad tag) and a complete TCP
 *     (20 bytes) or UDP (8 bytes) header at IHL*4 with fragment offset 0 pass untouched;
 *   - (daddr, dport, proto) in `services` (client -> VIP): the backend is conns[flow] if
 *     present and its address is not 0.0.0.0 (known), else maglev[service * 251 +
 *     hash(5-tuple) % 251] (hash: splitmix64 finaliser chain of docs/language.md, values in
 *     host order), stored in conns (BPF_ANY) and stats[NEW_CONN] += 1; a backend of address
 *     0.0.0.0 (or an index out of range) drops (stats[DROP_NO_BACKEND]); otherwise the
 *     reply entry (backend, client, dport, sport, proto) -> (VIP, client MAC, LB MAC) is
 *     written when the connection is new or the entry is missing, the destination address
 *     becomes the backend's (IPv4 and TCP/UDP checksums fixed incrementally, RFC 1624; a
 *     zero UDP checksum stays zero, a computed zero is sent as 0xffff), source MAC := the
 *     destination MAC it came with, destination MAC := the backend's; stats[TO_BACKEND];
 *     XDP_TX;
 *   - else a flow in `replies` (backend -> client): source address := VIP (checksums
 *     fixed), source MAC := LB MAC, destination MAC := client MAC; stats[TO_CLIENT]; XDP_TX;
 *   - else pass.
 *   conns/replies: LRU hashes of 65,536; stats: per-CPU array of 4. The configuration maps
 *   (services, backends, maglev) are filled from the NF's declared initial entries.
 *
 * Written for speed: one bounds check per header, one lookup per key (the conns value, the
 * backend and the reply entry are used through their pointers), no IPv6 parsing.
 */
#include "ref_common.h"

#define MAGLEV_M 251
#define STAT_TO_BACKEND 0
#define STAT_TO_CLIENT 1
#define STAT_NEW_CONN 2
#define STAT_DROP_NO_BACKEND 3

struct svc_key {
    __be32 vip;
    __be16 port;
    u8 proto;
    u8 pad;
};
struct backend {
    __be32 addr;
    u8 mac[6];
    u8 pad[2];
};
struct reply {
    __be32 vip;
    u8 client_mac[6];
    u8 lb_mac[6];
    u8 pad[2];
};

BPF_HASH(services, struct svc_key, u32, 16);
BPF_ARRAY(backends, struct backend, 64);
BPF_ARRAY(maglev, u32, 502);
BPF_TABLE("lru_hash", struct ref_flow, u32, conns, 65536);
BPF_TABLE("lru_hash", struct ref_flow, struct reply, replies, 65536);
BPF_PERCPU_ARRAY(stats, u64, 4);

static __always_inline void count(u32 index)
{
    u64 *c = stats.lookup(&index);
    if (c)
        *c += 1;
}

static __always_inline u64 mix64(u64 z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Set a MAC address in the packet from 6 bytes (one 4-byte and one 2-byte access; the
 * packet and map values allow unaligned access on x86-64, the stack does not). */
static __always_inline void set_mac(u8 *dst, const u8 *src)
{
    *(u32 *)dst = *(const u32 *)src;
    *(u16 *)(dst + 4) = *(const u16 *)(src + 4);
}

int ref_lb(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    void *l3 = data;

    if (ref_l3(data, data_end, &l3) != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    u32 ihl = ref_ipv4_ihl(l3, data_end);
    if (!ihl)
        return XDP_PASS;
    struct iphdr *ip = l3;
    void *l4 = l3 + ihl * 4;
    if (ip->frag_off & bpf_htons(0x1fff))
        return XDP_PASS;
    u8 proto = ip->protocol;
    u16 *l4csum;
    int udp;
    if (proto == IPPROTO_TCP) {
        if (l4 + 20 > data_end)
            return XDP_PASS;
        l4csum = l4 + 16;
        udp = 0;
    } else if (proto == IPPROTO_UDP) {
        if (l4 + 8 > data_end)
            return XDP_PASS;
        l4csum = l4 + 6;
        udp = 1;
    } else {
        return XDP_PASS;
    }

    struct ref_flow f;
    __builtin_memcpy(&f.saddr, &ip->saddr, 8);
    __builtin_memcpy(&f.sport, l4, 4);
    *(u32 *)&f.proto = proto;

    struct svc_key sk = { .vip = f.daddr, .port = f.dport, .proto = proto, .pad = 0 };
    u32 *svc = services.lookup(&sk);
    if (svc) {                                           /* client -> VIP */
        struct backend *be = NULL;
        int known = 0;
        u32 *cb = conns.lookup(&f);
        if (cb) {
            u32 b = *cb;
            be = backends.lookup(&b);
            known = be && be->addr != 0;
        }
        if (!known) {
            u64 h = 0x9E3779B97F4A7C15ULL;
            h = mix64(h ^ (u64)bpf_ntohl(f.saddr));
            h = mix64(h ^ (u64)bpf_ntohl(f.daddr));
            h = mix64(h ^ (u64)bpf_ntohs(f.sport));
            h = mix64(h ^ (u64)bpf_ntohs(f.dport));
            h = mix64(h ^ (u64)proto);
            u32 slot = (u32)(h ^ (h >> 32)) % MAGLEV_M;
            u32 idx = *svc * MAGLEV_M + slot;
            u32 *m = maglev.lookup(&idx);
            u32 b = m ? *m : 0;
            if (cb)
                *cb = b;                                 /* known key: in place */
            else
                conns.update(&f, &b);
            count(STAT_NEW_CONN);
            be = backends.lookup(&b);
        }
        if (!be || be->addr == 0) {
            count(STAT_DROP_NO_BACKEND);
            return XDP_DROP;
        }
        struct ref_flow back = { .saddr = be->addr, .daddr = f.saddr, .sport = f.dport,
                                 .dport = f.sport, .proto = proto };
        if (!known || !replies.lookup(&back)) {
            struct reply rp = { .vip = f.daddr };
            __builtin_memcpy(rp.client_mac, eth->h_source, 6);   /* stack: no wide */
            __builtin_memcpy(rp.lb_mac, eth->h_dest, 6);         /* unaligned stores */
            replies.update(&back, &rp);
        }
        __be32 addr = be->addr;
        ref_csum_replace4(&ip->check, ip->daddr, addr, 0);
        ref_csum_replace4(l4csum, ip->daddr, addr, udp);
        ip->daddr = addr;
        set_mac(eth->h_source, eth->h_dest);
        set_mac(eth->h_dest, be->mac);
        count(STAT_TO_BACKEND);
        return XDP_TX;
    }

    struct reply *rp = replies.lookup(&f);               /* backend -> client */
    if (rp) {
        __be32 vip = rp->vip;
        ref_csum_replace4(&ip->check, ip->saddr, vip, 0);
        ref_csum_replace4(l4csum, ip->saddr, vip, udp);
        ip->saddr = vip;
        set_mac(eth->h_source, rp->lb_mac);
        set_mac(eth->h_dest, rp->client_mac);
        count(STAT_TO_CLIENT);
        return XDP_TX;
    }
    return XDP_PASS;
}
