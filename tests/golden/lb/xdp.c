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
struct services_key { u32 f_f0; u16 f_f1; u8 f_f2; };
struct services_value { u32 f_value; };
BPF_F_TABLE("hash", struct services_key, struct services_value, services, 16, 0);
typedef u32 backends_index_t;
struct backends_value { u32 f_addr; u64 f_mac; };
BPF_F_TABLE("array", backends_index_t, struct backends_value, backends, 64, 0);
typedef u32 maglev_index_t;
struct maglev_value { u32 f_value; };
BPF_F_TABLE("array", maglev_index_t, struct maglev_value, maglev, 502, 0);
struct conns_key { u32 f_saddr; u32 f_daddr; u16 f_sport; u16 f_dport; u8 f_proto; };
struct conns_value { u32 f_value; };
BPF_F_TABLE("lru_hash", struct conns_key, struct conns_value, conns, 65536, 0);
struct replies_key { u32 f_saddr; u32 f_daddr; u16 f_sport; u16 f_dport; u8 f_proto; };
struct replies_value { u32 f_vip; u64 f_client_mac; u64 f_lb_mac; };
BPF_F_TABLE("lru_hash", struct replies_key, struct replies_value, replies, 65536, 0);
typedef u32 stats_index_t;
struct stats_value { u64 f_value; };
BPF_F_TABLE("percpu_array", stats_index_t, struct stats_value, stats, 4, 0);
int cora_xdp(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u8 r_t0 = 0;
    u8 r_t1 = 0;
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
    u32 r_f_13 = 0;
    u32 r_f_14 = 0;
    u16 r_f_15 = 0;
    u16 r_f_16 = 0;
    u8 r_f_17 = 0;
    u32 r_svc_key_18 = 0;
    u16 r_svc_key_19 = 0;
    u8 r_svc_key_20 = 0;
    struct services_value *r_h21 = NULL;
    u8 r_t22 = 0;
    u32 r_b_24 = 0;
    u8 r_known_26 = 0;
    struct conns_value *r_h27 = NULL;
    u8 r_t28 = 0;
    struct conns_value *r_h29 = NULL;
    u32 r_t30 = 0;
    struct backends_value *r_h31 = NULL;
    u32 r_t32 = 0;
    u32 r_t33 = 0;
    u8 r_t34 = 0;
    u32 r_t35 = 0;
    u32 r_t36 = 0;
    u32 r_t37 = 0;
    u32 r_slot_38 = 0;
    struct services_value *r_h39 = NULL;
    u32 r_t40 = 0;
    u32 r_t41 = 0;
    u32 r_t42 = 0;
    u32 r_t43 = 0;
    struct maglev_value *r_h44 = NULL;
    u32 r_t45 = 0;
    u8 r_t46 = 0;
    u32 r_index_48 = 0;
    u64 r_t49 = 0;
    struct stats_value *r_h50 = NULL;
    u64 r_t51 = 0;
    u64 r_t52 = 0;
    struct backends_value *r_h53 = NULL;
    u32 r_t54 = 0;
    u64 r_t55 = 0;
    u32 r_be_56 = 0;
    u64 r_be_57 = 0;
    u32 r_t58 = 0;
    u8 r_t59 = 0;
    u32 r_index_61 = 0;
    u64 r_t62 = 0;
    struct stats_value *r_h63 = NULL;
    u64 r_t64 = 0;
    u64 r_t65 = 0;
    u64 r_t66 = 0;
    u64 r_lb_mac_67 = 0;
    u32 r_back_68 = 0;
    u32 r_back_69 = 0;
    u16 r_back_70 = 0;
    u16 r_back_71 = 0;
    u8 r_back_72 = 0;
    struct replies_value *r_h73 = NULL;
    u8 r_t74 = 0;
    u64 r_t75 = 0;
    u8 r_t76 = 0;
    u32 r_index_78 = 0;
    u64 r_t79 = 0;
    struct stats_value *r_h80 = NULL;
    u64 r_t81 = 0;
    u64 r_t82 = 0;
    struct replies_value *r_h83 = NULL;
    u8 r_t84 = 0;
    struct replies_value *r_h85 = NULL;
    u32 r_t86 = 0;
    u64 r_t87 = 0;
    u64 r_t88 = 0;
    u32 r_r_89 = 0;
    u64 r_r_90 = 0;
    u64 r_r_91 = 0;
    u32 r_index_93 = 0;
    u64 r_t94 = 0;
    struct stats_value *r_h95 = NULL;
    u64 r_t96 = 0;
    u64 r_t97 = 0;
    u8 r_found0 = 0;
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
    r_t0 = v_ipv4; /* @113:10 */
    }
    {
    r_t1 = !r_t0; /* @113:9 */
    }
    {
    r_t2 = v_tcp; /* @113:26 */
    }
    {
    r_t3 = v_udp; /* @113:39 */
    }
    {
    r_t4 = (u8)(r_t2 | r_t3); /* @113:26 */
    }
    {
    r_t5 = !r_t4; /* @113:24 */
    }
    {
    r_t6 = (u8)(r_t1 | r_t5); /* @113:9 */
    }
    {
    if (r_t6) goto L_bb1; else goto L_bb2; /* @113:9 */
    }
L_bb2: ;
    {
    r_t12 = v_tcp; /* @114:13 */
    }
    {
    r_flow_saddr7 = 0; /* @114:13 */
    if (v_ipv4) {
        r_flow_saddr7 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @114:13 */
    }
    }
    {
    r_flow_daddr8 = 0; /* @114:13 */
    if (v_ipv4) {
        r_flow_daddr8 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 16)))); /* @114:13 */
    }
    }
    {
    r_flow_proto11 = 0; /* @114:13 */
    if (v_ipv4) {
        r_flow_proto11 = (u8)(((u64)(*(u8 *)(h_ipv4 + 9)))); /* @114:13 */
    }
    }
    {
    if (r_t12) goto L_bb3; else goto L_bb4; /* @114:13 */
    }
L_bb4: ;
    {
    r_flow_sport9 = 0; /* @114:13 */
    if (v_udp) {
        r_flow_sport9 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_udp + 0)))); /* @114:13 */
    }
    }
    {
    r_flow_dport10 = 0; /* @114:13 */
    if (v_udp) {
        r_flow_dport10 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_udp + 2)))); /* @114:13 */
    }
    }
    {
    goto L_bb5; /* @114:13 */
    }
L_bb3: ;
    {
    r_flow_sport9 = 0; /* @114:13 */
    if (v_tcp) {
        r_flow_sport9 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_tcp + 0)))); /* @114:13 */
    }
    }
    {
    r_flow_dport10 = 0; /* @114:13 */
    if (v_tcp) {
        r_flow_dport10 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_tcp + 2)))); /* @114:13 */
    }
    }
    {
    goto L_bb5; /* @114:13 */
    }
L_bb5: ;
    {
    r_f_13 = r_flow_saddr7; /* @114:5 */
    }
    {
    r_f_14 = r_flow_daddr8; /* @114:5 */
    }
    {
    r_f_15 = r_flow_sport9; /* @114:5 */
    }
    {
    r_f_16 = r_flow_dport10; /* @114:5 */
    }
    {
    r_f_17 = r_flow_proto11; /* @114:5 */
    }
    {
    r_svc_key_18 = r_f_14; /* @117:5 */
    }
    {
    r_svc_key_19 = r_f_16; /* @117:5 */
    }
    {
    r_svc_key_20 = r_f_17; /* @117:5 */
    }
    {
    struct services_key _t1; __builtin_memset(&_t1, 0, sizeof(_t1)); /* @118:9 */
    _t1.f_f0 = r_svc_key_18;
    _t1.f_f1 = r_svc_key_19;
    _t1.f_f2 = r_svc_key_20;
    r_h21 = services.lookup(&_t1);
    }
    {
    r_t22 = r_h21 != NULL; /* @118:9 */
    }
    {
    if (r_t22) goto L_bb6; else goto L_bb7; /* @118:9 */
    }
L_bb7: ;
    {
    struct replies_key _t2; __builtin_memset(&_t2, 0, sizeof(_t2)); /* @150:9 */
    _t2.f_saddr = r_f_13;
    _t2.f_daddr = r_f_14;
    _t2.f_sport = r_f_15;
    _t2.f_dport = r_f_16;
    _t2.f_proto = r_f_17;
    r_h83 = replies.lookup(&_t2);
    }
    {
    r_t84 = r_h83 != NULL; /* @150:9 */
    }
    {
    if (r_t84) goto L_bb23; else goto L_bb24; /* @150:9 */
    }
L_bb24: ;
    {
    return 2; /* pass */ /* @158:5 */
    }
L_bb23: ;
    {
    r_h85 = r_h83; /* @151:17 */
    }
    {
    r_t86 = r_h85 ? r_h85->f_vip : 0; /* @151:17 */
    }
    {
    r_t87 = r_h85 ? r_h85->f_client_mac : 0; /* @151:17 */
    }
    {
    r_t88 = r_h85 ? r_h85->f_lb_mac : 0; /* @151:17 */
    }
    {
    r_r_89 = r_t86; /* @151:9 */
    }
    {
    r_r_90 = (r_t87) & 0xffffffffffffULL; /* @151:9 */
    }
    {
    r_r_91 = (r_t88) & 0xffffffffffffULL; /* @151:9 */
    }
    {
    if (v_ipv4) { /* store ipv4.saddr */ /* @152:9 */
        u32 _t3 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 12))) + (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 14)));
        *(u32 *)(h_ipv4 + 12) = bpf_ntohl((u32)(r_r_89));
        u32 _t4 = (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 12)) + (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 14));
        if (1) {
            u32 _t5 = bpf_ntohs(*(u16 *)(h_ipv4 + 10));
            {
                u32 _t6 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t5) + _t3 + _t4);
                *(u16 *)(h_ipv4 + 10) = bpf_htons((u16)_t6);
            }
        }
        if (v_tcp) {
            u32 _t7 = bpf_ntohs(*(u16 *)(h_tcp + 16));
            {
                u32 _t8 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t7) + _t3 + _t4);
                *(u16 *)(h_tcp + 16) = bpf_htons((u16)_t8);
            }
        }
        if (v_udp) {
            u32 _t9 = bpf_ntohs(*(u16 *)(h_udp + 6));
            if (_t9 != 0) {
                u32 _t10 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t9) + _t3 + _t4);
                if (_t10 == 0) _t10 = 0xffff;
                *(u16 *)(h_udp + 6) = bpf_htons((u16)_t10);
            }
        }
    }
    }
    {
    if (v_ethernet) { /* store ethernet.src */ /* @153:9 */
        *(u32 *)(h_ethernet + 6) = bpf_ntohl((u32)(r_r_91 >> 16));
        *(u16 *)(h_ethernet + 10) = bpf_ntohs((u16)(r_r_91));
    }
    }
    {
    if (v_ethernet) { /* store ethernet.dst */ /* @154:9 */
        *(u32 *)(h_ethernet + 0) = bpf_ntohl((u32)(r_r_90 >> 16));
        *(u16 *)(h_ethernet + 4) = bpf_ntohs((u16)(r_r_90));
    }
    }
    {
    r_index_93 = 1U; /* @155:9 */
    }
    {
    r_t94 = 0x1ULL; /* @109:21 */
    }
    {
    u32 _t13 = r_index_93; /* @109:5 */
    r_h95 = stats.lookup(&_t13);
    }
    {
    r_t96 = r_h95 ? r_h95->f_value : 0; /* @109:5 */
    }
    {
    r_t97 = (u64)(r_t96 + r_t94); /* @109:5 */
    }
    {
    if (r_h95) r_h95->f_value = r_t97; /* @109:5 */
    }
    {
    return 3; /* tx */ /* @156:9 */
    }
L_bb6: ;
    {
    r_b_24 = 0U; /* @119:9 */
    }
    {
    r_known_26 = 0U; /* @120:9 */
    }
    {
    struct conns_key _t14; __builtin_memset(&_t14, 0, sizeof(_t14)); /* @121:13 */
    _t14.f_saddr = r_f_13;
    _t14.f_daddr = r_f_14;
    _t14.f_sport = r_f_15;
    _t14.f_dport = r_f_16;
    _t14.f_proto = r_f_17;
    r_h27 = conns.lookup(&_t14);
    }
    {
    r_t28 = r_h27 != NULL; /* @121:13 */
    }
    {
    if (r_t28) goto L_bb8; else goto L_bb10; /* @121:13 */
    }
L_bb8: ;
    {
    r_h29 = r_h27; /* @122:17 */
    }
    {
    r_t30 = r_h29 ? r_h29->f_value : 0; /* @122:17 */
    }
    {
    r_b_24 = r_t30; /* @122:13 */
    }
    {
    u32 _t15 = r_b_24; /* @123:21 */
    r_h31 = backends.lookup(&_t15);
    }
    {
    r_t32 = r_h31 ? r_h31->f_addr : 0; /* @123:21 */
    }
    {
    r_t33 = 0U; /* @123:41 */
    }
    {
    r_t34 = r_t32 != r_t33; /* @123:21 */
    }
    {
    r_known_26 = r_t34; /* @123:13 */
    }
    {
    goto L_bb10; /* @121:9 */
    }
L_bb10: ;
    {
    if (r_known_26) goto L_bb14; else goto L_bb11; /* @125:14 */
    }
L_bb11: ;
    {
    u64 _t16 = 0x9e3779b97f4a7c15ULL; /* @126:24 */
    _t16 = cora_mix64(_t16 ^ (u64)r_f_13);
    _t16 = cora_mix64(_t16 ^ (u64)r_f_14);
    _t16 = cora_mix64(_t16 ^ (u64)r_f_15);
    _t16 = cora_mix64(_t16 ^ (u64)r_f_16);
    _t16 = cora_mix64(_t16 ^ (u64)r_f_17);
    r_t35 = (u32)(_t16 ^ (_t16 >> 32)); /* @126:24 */
    }
    {
    r_t36 = 251U; /* @126:76 */
    }
    {
    r_t37 = (r_t36 ? (u32)(r_t35 % r_t36) : r_t35); /* @126:24 */
    }
    {
    r_slot_38 = r_t37; /* @126:13 */
    }
    {
    r_h39 = r_h21; /* @127:24 */
    }
    {
    r_t40 = r_h39 ? r_h39->f_value : 0; /* @127:24 */
    }
    {
    r_t41 = 251U; /* @127:44 */
    }
    {
    r_t42 = (u32)(r_t40 * r_t41); /* @127:24 */
    }
    {
    r_t43 = (u32)(r_t42 + r_slot_38); /* @127:24 */
    }
    {
    u32 _t17 = r_t43; /* @127:17 */
    r_h44 = maglev.lookup(&_t17);
    }
    {
    r_t45 = r_h44 ? r_h44->f_value : 0; /* @127:17 */
    }
    {
    r_b_24 = r_t45; /* @127:13 */
    }
    {
    r_found0 = r_h27 != NULL; /* @128:13 */
    }
    {
    if (r_found0) goto L_inplace0; else goto L_update0; /* @128:13 */
    }
L_update0: ;
    {
    struct conns_key _t18; __builtin_memset(&_t18, 0, sizeof(_t18)); /* @128:13 */
    _t18.f_saddr = r_f_13;
    _t18.f_daddr = r_f_14;
    _t18.f_sport = r_f_15;
    _t18.f_dport = r_f_16;
    _t18.f_proto = r_f_17;
    struct conns_value _t19; __builtin_memset(&_t19, 0, sizeof(_t19));
    _t19.f_value = r_b_24;
    r_t46 = conns.update(&_t18, &_t19) == 0;
    }
    {
    goto L_joined0; /* @128:13 */
    }
L_inplace0: ;
    {
    if (r_h27) r_h27->f_value = r_b_24; /* @128:13 */
    }
    {
    goto L_joined0; /* @128:13 */
    }
L_joined0: ;
    {
    r_index_48 = 2U; /* @129:13 */
    }
    {
    r_t49 = 0x1ULL; /* @109:21 */
    }
    {
    u32 _t20 = r_index_48; /* @109:5 */
    r_h50 = stats.lookup(&_t20);
    }
    {
    r_t51 = r_h50 ? r_h50->f_value : 0; /* @109:5 */
    }
    {
    r_t52 = (u64)(r_t51 + r_t49); /* @109:5 */
    }
    {
    if (r_h50) r_h50->f_value = r_t52; /* @109:5 */
    }
    {
    goto L_bb14; /* @129:13 */
    }
L_bb14: ;
    {
    u32 _t21 = r_b_24; /* @131:18 */
    r_h53 = backends.lookup(&_t21);
    }
    {
    r_t54 = r_h53 ? r_h53->f_addr : 0; /* @131:18 */
    }
    {
    r_t55 = r_h53 ? r_h53->f_mac : 0; /* @131:18 */
    }
    {
    r_be_56 = r_t54; /* @131:9 */
    }
    {
    r_be_57 = (r_t55) & 0xffffffffffffULL; /* @131:9 */
    }
    {
    r_t58 = 0U; /* @132:24 */
    }
    {
    r_t59 = r_be_56 == r_t58; /* @132:13 */
    }
    {
    if (r_t59) goto L_bb15; else goto L_bb16; /* @132:13 */
    }
L_bb16: ;
    {
    r_t66 = 0; /* @136:22 */
    if (v_ethernet) {
        r_t66 = (u64)(((u64)bpf_ntohl(*(u32 *)(h_ethernet + 0)) << 16) | ((u64)bpf_ntohs(*(u16 *)(h_ethernet + 4)))); /* @136:22 */
    }
    }
    {
    r_lb_mac_67 = (r_t66) & 0xffffffffffffULL; /* @136:9 */
    }
    {
    r_back_68 = r_be_56; /* @137:9 */
    }
    {
    r_back_69 = r_f_13; /* @137:9 */
    }
    {
    r_back_70 = r_f_16; /* @137:9 */
    }
    {
    r_back_71 = r_f_15; /* @137:9 */
    }
    {
    r_back_72 = r_f_17; /* @137:9 */
    }
    {
    if (r_known_26) goto L_bb20; else goto L_bb18; /* @139:14 */
    }
L_bb20: ;
    {
    struct replies_key _t22; __builtin_memset(&_t22, 0, sizeof(_t22)); /* @139:25 */
    _t22.f_saddr = r_back_68;
    _t22.f_daddr = r_back_69;
    _t22.f_sport = r_back_70;
    _t22.f_dport = r_back_71;
    _t22.f_proto = r_back_72;
    r_h73 = replies.lookup(&_t22);
    }
    {
    r_t74 = r_h73 != NULL; /* @139:25 */
    }
    {
    if (r_t74) goto L_bb21; else goto L_bb18; /* @139:25 */
    }
L_bb18: ;
    {
    r_t75 = 0; /* @140:63 */
    if (v_ethernet) {
        r_t75 = (u64)(((u64)bpf_ntohl(*(u32 *)(h_ethernet + 6)) << 16) | ((u64)bpf_ntohs(*(u16 *)(h_ethernet + 10)))); /* @140:63 */
    }
    }
    {
    struct replies_key _t23; __builtin_memset(&_t23, 0, sizeof(_t23)); /* @140:13 */
    _t23.f_saddr = r_back_68;
    _t23.f_daddr = r_back_69;
    _t23.f_sport = r_back_70;
    _t23.f_dport = r_back_71;
    _t23.f_proto = r_back_72;
    struct replies_value _t24; __builtin_memset(&_t24, 0, sizeof(_t24));
    _t24.f_vip = r_f_14;
    _t24.f_client_mac = r_t75;
    _t24.f_lb_mac = r_lb_mac_67;
    r_t76 = replies.update(&_t23, &_t24) == 0;
    }
    {
    goto L_bb21; /* @139:9 */
    }
L_bb21: ;
    {
    if (v_ipv4) { /* store ipv4.daddr */ /* @142:9 */
        u32 _t25 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 16))) + (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 18)));
        *(u32 *)(h_ipv4 + 16) = bpf_ntohl((u32)(r_be_56));
        u32 _t26 = (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 16)) + (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 18));
        if (1) {
            u32 _t27 = bpf_ntohs(*(u16 *)(h_ipv4 + 10));
            {
                u32 _t28 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t27) + _t25 + _t26);
                *(u16 *)(h_ipv4 + 10) = bpf_htons((u16)_t28);
            }
        }
        if (v_tcp) {
            u32 _t29 = bpf_ntohs(*(u16 *)(h_tcp + 16));
            {
                u32 _t30 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t29) + _t25 + _t26);
                *(u16 *)(h_tcp + 16) = bpf_htons((u16)_t30);
            }
        }
        if (v_udp) {
            u32 _t31 = bpf_ntohs(*(u16 *)(h_udp + 6));
            if (_t31 != 0) {
                u32 _t32 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t31) + _t25 + _t26);
                if (_t32 == 0) _t32 = 0xffff;
                *(u16 *)(h_udp + 6) = bpf_htons((u16)_t32);
            }
        }
    }
    }
    {
    if (v_ethernet) { /* store ethernet.src */ /* @143:9 */
        *(u32 *)(h_ethernet + 6) = bpf_ntohl((u32)(r_lb_mac_67 >> 16));
        *(u16 *)(h_ethernet + 10) = bpf_ntohs((u16)(r_lb_mac_67));
    }
    }
    {
    if (v_ethernet) { /* store ethernet.dst */ /* @144:9 */
        *(u32 *)(h_ethernet + 0) = bpf_ntohl((u32)(r_be_57 >> 16));
        *(u16 *)(h_ethernet + 4) = bpf_ntohs((u16)(r_be_57));
    }
    }
    {
    r_index_78 = 0U; /* @145:9 */
    }
    {
    r_t79 = 0x1ULL; /* @109:21 */
    }
    {
    u32 _t35 = r_index_78; /* @109:5 */
    r_h80 = stats.lookup(&_t35);
    }
    {
    r_t81 = r_h80 ? r_h80->f_value : 0; /* @109:5 */
    }
    {
    r_t82 = (u64)(r_t81 + r_t79); /* @109:5 */
    }
    {
    if (r_h80) r_h80->f_value = r_t82; /* @109:5 */
    }
    {
    return 3; /* tx */ /* @146:9 */
    }
L_bb15: ;
    {
    r_index_61 = 3U; /* @133:13 */
    }
    {
    r_t62 = 0x1ULL; /* @109:21 */
    }
    {
    u32 _t36 = r_index_61; /* @109:5 */
    r_h63 = stats.lookup(&_t36);
    }
    {
    r_t64 = r_h63 ? r_h63->f_value : 0; /* @109:5 */
    }
    {
    r_t65 = (u64)(r_t64 + r_t62); /* @109:5 */
    }
    {
    if (r_h63) r_h63->f_value = r_t65; /* @109:5 */
    }
    {
    return 1; /* drop */ /* @134:13 */
    }
L_bb1: ;
    {
    return 2; /* pass */ /* @113:53 */
    }
}
