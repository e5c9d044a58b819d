#include <uapi/linux/bpf.h>

#define CORA_CSUM_FOLD(s) ({ u64 _s = (s); _s = (_s & 0xffff) + (_s >> 16); \
    _s = (_s & 0xffff) + (_s >> 16); _s = (_s & 0xffff) + (_s >> 16); (u32)_s; })

/* Whole frame length. Only a frame whose linear part is (nearly) full can carry fragments
   (a test-run or multi-buffer frame puts 3,520 bytes in the linear part before any
   fragment), so the helper call is skipped for ordinary frames. */
static __always_inline u32 cora_pkt_len(struct xdp_md *ctx, void *data, void *data_end) {
    u32 len = data_end - data;
    return len < 2048 ? len : (u32)bpf_xdp_get_buff_len(ctx);
}

static __always_inline u64 cora_mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
struct flows_key { u32 f_saddr; u32 f_daddr; u16 f_sport; u16 f_dport; u8 f_proto; };
struct flows_value { u64 f_packets; u64 f_bytes; };
BPF_F_TABLE("hash", struct flows_key, struct flows_value, flows, 65536, 0);
int cora_xdp(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u16 r_t0 = 0;
    u16 r_t1 = 0;
    u8 r_t2 = 0;
    u8 r_t3 = 0;
    u8 r_t4 = 0;
    u8 r_t5 = 0;
    u8 r_t6 = 0;
    u32 r_flow_saddr7 = 0;
    u32 r_flow_daddr8 = 0;
    u16 r_flow_sport9 = 0;
    u16 r_flow_dport10 = 0;
    u8 r_flow_proto11 = 0;
    u8 r_t12 = 0;
    u64 r_t13 = 0;
    u32 r_t14 = 0;
    u64 r_t15 = 0;
    struct flows_value *r_h16 = NULL;
    u8 r_t17 = 0;
    u64 r_t18 = 0;
    u64 r_t19 = 0;
    u64 r_t20 = 0;
    u64 r_t21 = 0;
    u8 r_t22 = 0;
    void *h_ethernet = data; void *h_vlan = data; void *h_ipv4 = data; void *h_ipv6 = data; void *h_tcp = data; void *h_udp = data;
    u8 v_ethernet = 0, v_vlan = 0, v_ipv4 = 0, v_ipv6 = 0, v_tcp = 0, v_udp = 0;
    if (data + 14 <= data_end) {
        v_ethernet = 1;
        u16 et = *(u16 *)(data + 12);
        void *l3 = data + 14;
        if (et == bpf_htons(0x8100) || et == bpf_htons(0x88a8)) {
            if (data + 18 > data_end) goto parsed;
            v_vlan = 1; h_vlan = data + 14; et = *(u16 *)(data + 16); l3 = data + 18;
        }
        void *l4 = data; u8 l4proto = 0; u8 has_l4 = 0;
        if (et == bpf_htons(0x0800)) {
            if (l3 + 20 > data_end) goto parsed;
            u32 ihl = *(u8 *)l3 & 0x0f;
            if (ihl < 5 || l3 + ihl * 4 > data_end) goto parsed;
            v_ipv4 = 1; h_ipv4 = l3;
            if ((*(u16 *)(l3 + 6) & bpf_htons(0x1fff)) == 0) {
                l4proto = *(u8 *)(l3 + 9); l4 = l3 + ihl * 4; has_l4 = 1;
            }
        } else if (et == bpf_htons(0x86dd)) {
            if (l3 + 40 > data_end) goto parsed;
            v_ipv6 = 1; h_ipv6 = l3;
            l4proto = *(u8 *)(l3 + 6); l4 = l3 + 40; has_l4 = l4proto != 1;
        }
        if (has_l4) {
            if (l4proto == 6) {
                if (l4 + 20 <= data_end) { v_tcp = 1; h_tcp = l4; }
            } else if (l4proto == 17) {
                if (l4 + 8 <= data_end) { v_udp = 1; h_udp = l4; }
            }
        }
    }
parsed:
    ;
L_bb0: ;
    {
    r_t0 = 0; /* @32:9 */
    if (v_ethernet) {
        r_t0 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_ethernet + 12)))); /* @32:9 */
    }
    }
    {
    r_t1 = 2048U; /* @32:26 */
    }
    {
    r_t2 = r_t0 != r_t1; /* @32:9 */
    }
    {
    if (r_t2) goto L_bb1; else goto L_bb2; /* @32:9 */
    }
L_bb2: ;
    {
    r_t3 = v_ipv4; /* @33:10 */
    }
    {
    if (r_t3) goto L_bb4; else goto L_bb3; /* @33:10 */
    }
L_bb3: ;
    {
    return 2; /* pass */ /* @33:24 */
    }
L_bb4: ;
    {
    r_t4 = v_tcp; /* @34:11 */
    }
    {
    r_t5 = v_udp; /* @34:24 */
    }
    {
    r_t6 = (u8)(r_t4 | r_t5); /* @34:11 */
    }
    {
    if (r_t6) goto L_bb6; else goto L_bb5; /* @34:11 */
    }
L_bb5: ;
    {
    return 2; /* pass */ /* @34:38 */
    }
L_bb6: ;
    {
    r_t12 = v_tcp; /* @35:11 */
    }
    {
    r_flow_saddr7 = 0; /* @35:11 */
    if (v_ipv4) {
        r_flow_saddr7 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @35:11 */
    }
    }
    {
    r_flow_daddr8 = 0; /* @35:11 */
    if (v_ipv4) {
        r_flow_daddr8 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 16)))); /* @35:11 */
    }
    }
    {
    r_flow_proto11 = 0; /* @35:11 */
    if (v_ipv4) {
        r_flow_proto11 = (u8)(((u64)(*(u8 *)(h_ipv4 + 9)))); /* @35:11 */
    }
    }
    {
    if (r_t12) goto L_bb7; else goto L_bb8; /* @35:11 */
    }
L_bb8: ;
    {
    r_flow_sport9 = 0; /* @35:11 */
    if (v_udp) {
        r_flow_sport9 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_udp + 0)))); /* @35:11 */
    }
    }
    {
    r_flow_dport10 = 0; /* @35:11 */
    if (v_udp) {
        r_flow_dport10 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_udp + 2)))); /* @35:11 */
    }
    }
    {
    goto L_bb9; /* @35:11 */
    }
L_bb7: ;
    {
    r_flow_sport9 = 0; /* @35:11 */
    if (v_tcp) {
        r_flow_sport9 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_tcp + 0)))); /* @35:11 */
    }
    }
    {
    r_flow_dport10 = 0; /* @35:11 */
    if (v_tcp) {
        r_flow_dport10 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_tcp + 2)))); /* @35:11 */
    }
    }
    {
    goto L_bb9; /* @35:11 */
    }
L_bb9: ;
    {
    r_t13 = 0x1ULL; /* @35:28 */
    }
    {
    r_t14 = cora_pkt_len(ctx, data, data_end); /* @36:26 */
    }
    {
    r_t15 = (u64)r_t14; /* @36:5 */
    }
    {
    struct flows_key _t1; __builtin_memset(&_t1, 0, sizeof(_t1)); /* @35:5 */
    _t1.f_saddr = r_flow_saddr7;
    _t1.f_daddr = r_flow_daddr8;
    _t1.f_sport = r_flow_sport9;
    _t1.f_dport = r_flow_dport10;
    _t1.f_proto = r_flow_proto11;
    r_h16 = flows.lookup(&_t1);
    }
    {
    r_t17 = r_h16 != NULL; /* @35:5 */
    }
    {
    if (r_t17) goto L_bb10; else goto L_bb11; /* @35:5 */
    }
L_bb11: ;
    {
    struct flows_key _t2; __builtin_memset(&_t2, 0, sizeof(_t2)); /* @35:5 */
    _t2.f_saddr = r_flow_saddr7;
    _t2.f_daddr = r_flow_daddr8;
    _t2.f_sport = r_flow_sport9;
    _t2.f_dport = r_flow_dport10;
    _t2.f_proto = r_flow_proto11;
    struct flows_value _t3; __builtin_memset(&_t3, 0, sizeof(_t3));
    _t3.f_packets = r_t13;
    _t3.f_bytes = r_t15;
    r_t22 = flows.update(&_t2, &_t3) == 0;
    }
    {
    goto L_bb12; /* @30:1 */
    }
L_bb10: ;
    {
    r_t18 = r_h16 ? r_h16->f_packets : 0; /* @35:5 */
    }
    {
    r_t19 = (u64)(r_t18 + r_t13); /* @35:5 */
    }
    {
    r_t20 = r_h16 ? r_h16->f_bytes : 0; /* @36:5 */
    }
    {
    r_t21 = (u64)(r_t20 + r_t15); /* @36:5 */
    }
    {
    if (r_h16) r_h16->f_packets = r_t19; /* @35:5 */
    }
    {
    if (r_h16) r_h16->f_bytes = r_t21; /* @36:5 */
    }
    {
    goto L_bb12; /* @30:1 */
    }
L_bb12: ;
    {
    return 2; /* pass */ /* @37:5 */
    }
L_bb1: ;
    {
    return 2; /* pass */ /* @32:40 */
    }
}
