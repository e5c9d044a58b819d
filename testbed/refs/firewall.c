/* Hand-written reference for netfuncs/firewall.nf: a stateful IPv4 firewall, inside =
 * 10.11.1.0/24 (read the NF's header comment for the policy; this file implements it rule
 * for rule, in the same order).
 *
 *   1. not IPv4 after at most one 802.1Q/802.1ad tag: pass (a tag cut short: pass);
 *   2. IPv4 with a short/malformed header, or fragment offset 0 and TCP < 20 / UDP < 8 /
 *      ICMP < 8 bytes at IHL*4: drop MALFORMED;
 *   3./4. connection lookup (reversed key first, then the key; an entry idle longer than
 *      its timeout is deleted and counts as absent), then the inside/outside rules, then
 *      track(): RST deletes, a SYN (no ACK) from the originator clears the FIN bits, FIN
 *      sets the sender's bit, a live entry is refreshed in place (last_ns; fin only when it
 *      changed), a new one inserted with BPF_ANY.
 *   conns: LRU hash of 65,536 (on_full evict), key as on the wire (ICMP echo: sport = dport
 *   = identifier, proto 1), value (last_ns, fin); drops: per-CPU array of 8 reasons.
 *
 * Written for speed: one bounds check per header, each key looked up once (the value
 * pointer found by the liveness check is the one refreshed), no IPv6 parsing.
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

#define TCP_TIMEOUT_NS 300000000000ULL
#define CLOSING_TIMEOUT_NS 10000000000ULL
#define UDP_TIMEOUT_NS 30000000000ULL

#define DROP_MALFORMED 0
#define DROP_FRAGMENT 1
#define DROP_ICMP 2
#define DROP_PROTO 3
#define DROP_DEST 4
#define DROP_PORT 5
#define DROP_TCP_STATE 6

#define FIN_ORIG 1
#define FIN_REPLY 2
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_ACK 0x10

struct conn {
    u64 last_ns;
    u8 fin;
    u8 pad[7];
};

BPF_TABLE("lru_hash", struct ref_flow, struct conn, conns, 65536);
BPF_PERCPU_ARRAY(drops, u64, 8);

static __always_inline int refuse(u32 reason)
{
    u64 *c = drops.lookup(&reason);
    if (c)
        *c += 1;
    return XDP_DROP;
}

static __always_inline int in_inside(__be32 a)
{
    return (a & bpf_htonl(0xffffff00)) == bpf_htonl(0x0a0b0100);
}

/* The live entry of `k` at time t, or NULL; an expired entry is deleted. */
static __always_inline struct conn *live(struct ref_flow *k, u64 t)
{
    struct conn *c = conns.lookup(k);
    if (!c)
        return NULL;
    u64 last = c->last_ns;
    if (t > last) {
        u64 timeout = UDP_TIMEOUT_NS;
        if (k->proto == IPPROTO_TCP)
            timeout = c->fin == (FIN_ORIG | FIN_REPLY) ? CLOSING_TIMEOUT_NS : TCP_TIMEOUT_NS;
        if (t - last > timeout) {
            conns.delete(k);
            return NULL;
        }
    }
    return c;
}

int ref_firewall(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    void *l3 = data;

    if (ref_l3(data, data_end, &l3) != bpf_htons(ETH_P_IP))
        return XDP_PASS;                   /* 1. (a cut-short tag: l3type is the TPID) */
    u32 ihl = ref_ipv4_ihl(l3, data_end);
    if (!ihl)
        return refuse(DROP_MALFORMED);     /* 2. */
    struct iphdr *ip = l3;
    void *l4 = l3 + ihl * 4;
    u8 proto = ip->protocol;
    int first = (ip->frag_off & bpf_htons(0x1fff)) == 0;
    int is_tcp = 0, is_udp = 0, is_icmp = 0;
    if (first) {
        if (proto == IPPROTO_TCP) {
            if (l4 + 20 > data_end)
                return refuse(DROP_MALFORMED);
            is_tcp = 1;
        } else if (proto == IPPROTO_UDP) {
            if (l4 + 8 > data_end)
                return refuse(DROP_MALFORMED);
            is_udp = 1;
        } else if (proto == IPPROTO_ICMP) {
            if (l4 + 8 > data_end)
                return refuse(DROP_MALFORMED);
            is_icmp = 1;
        }
    }

    u64 t = ref_now();
    int inside = in_inside(ip->saddr);
    int ports = is_tcp | is_udp;
    u8 icmp_type = 0;
    int echo = 0;
    if (is_icmp) {
        icmp_type = *(u8 *)l4;
        echo = inside ? icmp_type == 8 : icmp_type == 0;
    }

    struct ref_flow k = {}, r;
    struct conn *c = NULL;
    int from_orig = 1, found = 0;
    if (ports | echo) {
        __builtin_memcpy(&k.saddr, &ip->saddr, 8);               /* saddr, daddr */
        if (ports) {
            __builtin_memcpy(&k.sport, l4, 4);                   /* sport, dport */
            *(u32 *)&k.proto = proto;                            /* proto + padding */
        } else {
            __be16 id = *(__be16 *)(l4 + 4);
            k.sport = id;
            k.dport = id;
            *(u32 *)&k.proto = IPPROTO_ICMP;
        }
        r.saddr = k.daddr;
        r.daddr = k.saddr;
        r.sport = k.dport;
        r.dport = k.sport;
        *(u32 *)&r.proto = *(u32 *)&k.proto;
        c = live(&r, t);
        if (c) {
            from_orig = 0;
            found = 1;
            k = r;                                               /* the connection's key */
        } else {
            c = live(&k, t);
            found = c != NULL;
        }
    }

    if (!found) {
        if (inside) {
            if (!(ports | echo))
                return XDP_PASS;                                 /* 3. */
        } else {
            if (!first)
                return refuse(DROP_FRAGMENT);                    /* 4a. */
            if (is_icmp) {                                       /* 4c. */
                if (icmp_type == 8)
                    return in_inside(ip->daddr) ? XDP_PASS : refuse(DROP_DEST);
                if (icmp_type == 3 || icmp_type == 11)
                    return XDP_PASS;
                return refuse(DROP_ICMP);
            }
            if (!ports)
                return refuse(DROP_PROTO);                       /* 4d. */
            if (!in_inside(ip->daddr))                           /* 4e. */
                return refuse(DROP_DEST);
            u16 dport = bpf_ntohs(*(__be16 *)(l4 + 2));
            if (dport != 22 && dport != 80 && dport != 443)
                return refuse(DROP_PORT);
            if (is_tcp && (*(u8 *)(l4 + 13) & (F_SYN | F_ACK | F_RST | F_FIN)) != F_SYN)
                return refuse(DROP_TCP_STATE);
        }
    }

    /* track(k, t, from_orig, found) */
    u8 old_fin = c ? c->fin : 0;
    u8 fin = old_fin;
    if (is_tcp) {
        u8 flags = *(u8 *)(l4 + 13);
        if (flags & F_RST) {
            conns.delete(&k);
            return XDP_PASS;
        }
        if (from_orig && (flags & (F_SYN | F_ACK)) == F_SYN)
            fin = 0;
        if (flags & F_FIN)
            fin |= from_orig ? FIN_ORIG : FIN_REPLY;
    }
    if (c) {
        c->last_ns = t;
        if (fin != old_fin)
            c->fin = fin;
    } else {
        struct conn nc = { .last_ns = t, .fin = fin };
        conns.update(&k, &nc);
    }
    return XDP_PASS;
}
