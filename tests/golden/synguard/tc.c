#include <uapi/linux/bpf.h>

#define CORA_CSUM_FOLD(s) ({ u64 _s = (s); _s = (_s & 0xffff) + (_s >> 16); \
    _s = (_s & 0xffff) + (_s >> 16); _s = (_s & 0xffff) + (_s >> 16); (u32)_s; })

static __always_inline u64 cora_mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
struct dst_windows_key { u32 f_key; };
struct dst_windows_value { u64 f_start_ns; u32 f_syns; u64 f_attack_until_ns; };
BPF_F_TABLE("hash", struct dst_windows_key, struct dst_windows_value, dst_windows, 16384, 0);
struct known_key { u32 f_key; };
struct known_value { u64 f_value; };
BPF_F_TABLE("lru_hash", struct known_key, struct known_value, known, 65536, 0);
struct src_windows_key { u32 f_key; };
struct src_windows_value { u64 f_start_ns; u32 f_syns; };
BPF_F_TABLE("lru_hash", struct src_windows_key, struct src_windows_value, src_windows, 65536, 0);
typedef u32 stats_index_t;
struct stats_value { u64 f_value; };
BPF_F_TABLE("percpu_array", stats_index_t, struct stats_value, stats, 4, 0);
int cora_tc(struct __sk_buff *ctx) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u8 r_t0 = 0;
    u8 r_t1 = 0;
    u8 r_t2 = 0;
    u8 r_t3 = 0;
    u8 r_t4 = 0;
    u32 r_t5 = 0;
    u32 r_src_6 = 0;
    u32 r_t7 = 0;
    u32 r_dst_8 = 0;
    u64 r_t9 = 0;
    u64 r_t_10 = 0;
    u8 r_t11 = 0;
    u8 r_t14 = 0;
    u8 r_t15 = 0;
    u8 r_t16 = 0;
    u8 r_t17 = 0;
    u8 r_syn_18 = 0;
    u8 r_t19 = 0;
    u8 r_t24 = 0;
    u8 r_t25 = 0;
    u8 r_t26 = 0;
    u8 r_t27 = 0;
    struct dst_windows_value *r_h28 = NULL;
    u64 r_t29 = 0;
    u8 r_t30 = 0;
    struct known_value *r_h31 = NULL;
    u8 r_t32 = 0;
    struct known_value *r_h33 = NULL;
    u64 r_t34 = 0;
    u64 r_t35 = 0;
    u64 r_t36 = 0;
    u8 r_t37 = 0;
    u8 r_t38 = 0;
    u32 r_index_40 = 0;
    u64 r_t41 = 0;
    struct stats_value *r_h42 = NULL;
    u64 r_t43 = 0;
    u64 r_t44 = 0;
    struct dst_windows_value *r_h45 = NULL;
    u64 r_t46 = 0;
    u32 r_t47 = 0;
    u64 r_t48 = 0;
    u64 r_w_49 = 0;
    u32 r_w_50 = 0;
    u64 r_w_51 = 0;
    u32 r_syns_53 = 0;
    u64 r_t54 = 0;
    u64 r_t55 = 0;
    u8 r_t56 = 0;
    u8 r_t57 = 0;
    u8 r_t58 = 0;
    u32 r_t59 = 0;
    u8 r_t60 = 0;
    u32 r_t61 = 0;
    u32 r_t62 = 0;
    struct dst_windows_value *r_h63 = NULL;
    u8 r_t64 = 0;
    u64 r_t65 = 0;
    u64 r_t66 = 0;
    u8 r_t67 = 0;
    u64 r_attack_until_ns_68 = 0;
    u32 r_t69 = 0;
    u8 r_t70 = 0;
    u32 r_t73 = 0;
    u8 r_t74 = 0;
    u32 r_index_76 = 0;
    u64 r_t77 = 0;
    struct stats_value *r_h78 = NULL;
    u64 r_t79 = 0;
    u64 r_t80 = 0;
    u64 r_t81 = 0;
    u64 r_t82 = 0;
    struct dst_windows_value *r_h83 = NULL;
    u8 r_t84 = 0;
    u64 r_t85 = 0;
    u32 r_t86 = 0;
    u8 r_t87 = 0;
    u8 r_t88 = 0;
    struct known_value *r_h89 = NULL;
    u8 r_t90 = 0;
    struct known_value *r_h91 = NULL;
    u64 r_t92 = 0;
    u8 r_t93 = 0;
    struct known_value *r_h94 = NULL;
    u64 r_t95 = 0;
    u64 r_t96 = 0;
    u64 r_t97 = 0;
    u8 r_t98 = 0;
    u32 r_index_100 = 0;
    u64 r_t101 = 0;
    struct stats_value *r_h102 = NULL;
    u64 r_t103 = 0;
    u64 r_t104 = 0;
    struct src_windows_value *r_h105 = NULL;
    u64 r_t106 = 0;
    u32 r_t107 = 0;
    u64 r_s_108 = 0;
    u32 r_s_109 = 0;
    u32 r_src_syns_111 = 0;
    u64 r_t112 = 0;
    u64 r_t113 = 0;
    u8 r_t114 = 0;
    u8 r_t115 = 0;
    u8 r_t116 = 0;
    u32 r_t117 = 0;
    u8 r_t118 = 0;
    u32 r_t119 = 0;
    u32 r_t120 = 0;
    struct src_windows_value *r_h121 = NULL;
    u8 r_t122 = 0;
    u64 r_t123 = 0;
    u8 r_t124 = 0;
    u32 r_t125 = 0;
    u8 r_t126 = 0;
    u32 r_index_128 = 0;
    u64 r_t129 = 0;
    struct stats_value *r_h130 = NULL;
    u64 r_t131 = 0;
    u64 r_t132 = 0;
    u8 r_found0 = 0;
    u8 r_found1 = 0;
    u8 r_found2 = 0;
    if (data + 138 > data_end && ctx->len > (u32)(data_end - data)) {
        bpf_skb_pull_data(ctx, ctx->len < 138 ? ctx->len : 138);
        data = (void *)(long)ctx->data; data_end = (void *)(long)ctx->data_end;
    }
    void *h_ethernet = data; void *h_vlan = data; void *h_ipv4 = data; void *h_ipv6 = data; void *h_tcp = data;
    u8 v_ethernet = 0, v_vlan = 0, v_ipv4 = 0, v_ipv6 = 0, v_tcp = 0;
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
            }
        }
    }
parsed:
    ;
L_bb0: ;
    {
    r_t0 = v_tcp; /* @64:10 */
    }
    {
    r_t1 = !r_t0; /* @64:9 */
    }
    {
    r_t2 = v_ipv4; /* @64:24 */
    }
    {
    r_t3 = !r_t2; /* @64:23 */
    }
    {
    r_t4 = (u8)(r_t1 | r_t3); /* @64:9 */
    }
    {
    if (r_t4) goto L_bb1; else goto L_bb2; /* @64:9 */
    }
L_bb2: ;
    {
    r_t5 = 0; /* @65:15 */
    if (v_ipv4) {
        r_t5 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @65:15 */
    }
    }
    {
    r_src_6 = r_t5; /* @65:5 */
    }
    {
    r_t7 = 0; /* @66:15 */
    if (v_ipv4) {
        r_t7 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 16)))); /* @66:15 */
    }
    }
    {
    r_dst_8 = r_t7; /* @66:5 */
    }
    {
    r_t9 = bpf_ktime_get_ns(); /* @67:13 */
    }
    {
    r_t_10 = r_t9; /* @67:5 */
    }
    {
    r_t11 = 0; /* @68:16 */
    if (v_tcp) {
        r_t11 = (u8)(((u64)(*(u8 *)(h_tcp + 13)))); /* @68:16 */
    }
    }
    {
    r_t14 = 18U; /* @68:29 */
    }
    {
    r_t15 = (u8)(r_t11 & r_t14); /* @68:16 */
    }
    {
    r_t16 = 2U; /* @68:52 */
    }
    {
    r_t17 = r_t15 == r_t16; /* @68:15 */
    }
    {
    r_syn_18 = r_t17; /* @68:5 */
    }
    {
    if (r_syn_18) goto L_bb4; else goto L_bb3; /* @70:10 */
    }
L_bb3: ;
    {
    r_t19 = 0; /* @73:14 */
    if (v_tcp) {
        r_t19 = (u8)(((u64)(*(u8 *)(h_tcp + 13)))); /* @73:14 */
    }
    }
    {
    r_t24 = 22U; /* @73:27 */
    }
    {
    r_t25 = (u8)(r_t19 & r_t24); /* @73:14 */
    }
    {
    r_t26 = 16U; /* @73:60 */
    }
    {
    r_t27 = r_t25 == r_t26; /* @73:13 */
    }
    {
    if (r_t27) goto L_bb7; else goto L_bb12; /* @73:13 */
    }
L_bb7: ;
    {
    struct dst_windows_key _t1; __builtin_memset(&_t1, 0, sizeof(_t1)); /* @74:21 */
    _t1.f_key = r_dst_8;
    r_h28 = dst_windows.lookup(&_t1);
    }
    {
    r_t29 = r_h28 ? r_h28->f_attack_until_ns : 0; /* @74:21 */
    }
    {
    r_t30 = r_t_10 >= r_t29; /* @74:16 */
    }
    {
    if (r_t30) goto L_bb5; else goto L_bb12; /* @74:16 */
    }
L_bb5: ;
    {
    struct known_key _t2; __builtin_memset(&_t2, 0, sizeof(_t2)); /* @75:19 */
    _t2.f_key = r_src_6;
    r_h31 = known.lookup(&_t2);
    }
    {
    r_t32 = r_h31 != NULL; /* @75:19 */
    }
    {
    if (r_t32) goto L_bb10; else goto L_bb8; /* @75:19 */
    }
L_bb10: ;
    {
    r_h33 = r_h31; /* @75:41 */
    }
    {
    r_t34 = r_h33 ? r_h33->f_value : 0; /* @75:41 */
    }
    {
    r_t35 = 0x3b9aca00ULL; /* @75:54 */
    }
    {
    r_t36 = (u64)(r_t34 + r_t35); /* @75:41 */
    }
    {
    r_t37 = r_t_10 >= r_t36; /* @75:36 */
    }
    {
    if (r_t37) goto L_bb8; else goto L_bb12; /* @75:36 */
    }
L_bb8: ;
    {
    r_found0 = r_h31 != NULL; /* @75:74 */
    }
    {
    if (r_found0) goto L_inplace0; else goto L_update0; /* @75:74 */
    }
L_update0: ;
    {
    struct known_key _t3; __builtin_memset(&_t3, 0, sizeof(_t3)); /* @75:74 */
    _t3.f_key = r_src_6;
    struct known_value _t4; __builtin_memset(&_t4, 0, sizeof(_t4));
    _t4.f_value = r_t_10;
    r_t38 = known.update(&_t3, &_t4) == 0;
    }
    {
    goto L_bb12; /* @75:74 */
    }
L_inplace0: ;
    {
    if (r_h31) r_h31->f_value = r_t_10; /* @75:74 */
    }
    {
    goto L_bb12; /* @75:74 */
    }
L_bb12: ;
    {
    return 0; /* pass */ /* @77:9 */
    }
L_bb4: ;
    {
    r_index_40 = 0U; /* @82:5 */
    }
    {
    r_t41 = 0x1ULL; /* @60:21 */
    }
    {
    u32 _t5 = r_index_40; /* @60:5 */
    r_h42 = stats.lookup(&_t5);
    }
    {
    r_t43 = r_h42 ? r_h42->f_value : 0; /* @60:5 */
    }
    {
    r_t44 = (u64)(r_t43 + r_t41); /* @60:5 */
    }
    {
    if (r_h42) r_h42->f_value = r_t44; /* @60:5 */
    }
    {
    struct dst_windows_key _t6; __builtin_memset(&_t6, 0, sizeof(_t6)); /* @83:13 */
    _t6.f_key = r_dst_8;
    r_h45 = dst_windows.lookup(&_t6);
    }
    {
    r_t46 = r_h45 ? r_h45->f_start_ns : 0; /* @83:13 */
    }
    {
    r_t47 = r_h45 ? r_h45->f_syns : 0; /* @83:13 */
    }
    {
    r_t48 = r_h45 ? r_h45->f_attack_until_ns : 0; /* @83:13 */
    }
    {
    r_w_49 = r_t46; /* @83:5 */
    }
    {
    r_w_50 = r_t47; /* @83:5 */
    }
    {
    r_w_51 = r_t48; /* @83:5 */
    }
    {
    r_syns_53 = 1U; /* @84:5 */
    }
    {
    r_t54 = 0x3b9aca00ULL; /* @85:27 */
    }
    {
    r_t55 = (u64)(r_w_49 + r_t54); /* @85:14 */
    }
    {
    r_t56 = r_t_10 >= r_t55; /* @85:9 */
    }
    {
    r_t57 = r_t_10 < r_w_49; /* @85:40 */
    }
    {
    r_t58 = (u8)(r_t56 | r_t57); /* @85:9 */
    }
    {
    if (r_t58) goto L_bb14; else goto L_bb15; /* @85:9 */
    }
L_bb15: ;
    {
    r_t61 = 1U; /* @88:25 */
    }
    {
    r_t62 = (u32)(r_w_50 + r_t61); /* @88:16 */
    }
    {
    r_syns_53 = r_t62; /* @88:9 */
    }
    {
    r_h63 = r_h45; /* @89:9 */
    }
    {
    r_t64 = r_h63 != NULL; /* @89:9 */
    }
    {
    if (r_t64) goto L_bb18; else goto L_bb19; /* @89:9 */
    }
L_bb19: ;
    {
    r_t65 = 0x0ULL; /* @89:9 */
    }
    {
    r_t66 = 0x0ULL; /* @89:9 */
    }
    {
    struct dst_windows_key _t7; __builtin_memset(&_t7, 0, sizeof(_t7)); /* @89:9 */
    _t7.f_key = r_dst_8;
    struct dst_windows_value _t8; __builtin_memset(&_t8, 0, sizeof(_t8));
    _t8.f_start_ns = r_t65;
    _t8.f_syns = r_syns_53;
    _t8.f_attack_until_ns = r_t66;
    r_t67 = dst_windows.update(&_t7, &_t8) == 0;
    }
    {
    if (r_t67) goto L_bb23; else goto L_bb21; /* @89:9 */
    }
L_bb21: ;
    {
    return 0; /* pass */ /* @89:9 */
    }
L_bb18: ;
    {
    if (r_h63) r_h63->f_syns = r_syns_53; /* @89:9 */
    }
    {
    goto L_bb23; /* @85:5 */
    }
L_bb14: ;
    {
    r_t59 = 1U; /* @86:59 */
    }
    {
    r_found1 = r_h45 != NULL; /* @86:9 */
    }
    {
    if (r_found1) goto L_inplace1; else goto L_update1; /* @86:9 */
    }
L_update1: ;
    {
    struct dst_windows_key _t9; __builtin_memset(&_t9, 0, sizeof(_t9)); /* @86:9 */
    _t9.f_key = r_dst_8;
    struct dst_windows_value _t10; __builtin_memset(&_t10, 0, sizeof(_t10));
    _t10.f_start_ns = r_t_10;
    _t10.f_syns = r_t59;
    _t10.f_attack_until_ns = r_w_51;
    r_t60 = dst_windows.update(&_t9, &_t10) == 0;
    }
    {
    goto L_joined1; /* @86:9 */
    }
L_inplace1: ;
    {
    if (r_h45) r_h45->f_start_ns = r_t_10; /* @86:9 */
    }
    {
    if (r_h45) r_h45->f_syns = r_t59; /* @86:9 */
    }
    {
    if (r_h45) r_h45->f_attack_until_ns = r_w_51; /* @86:9 */
    }
    {
    r_t60 = 1U; /* @86:9 */
    }
    {
    goto L_joined1; /* @86:9 */
    }
L_joined1: ;
    {
    if (r_t60) goto L_bb23; else goto L_bb17; /* @86:9 */
    }
L_bb17: ;
    {
    return 0; /* pass */ /* @86:9 */
    }
L_bb23: ;
    {
    r_attack_until_ns_68 = r_w_51; /* @91:5 */
    }
    {
    r_t69 = 1000U; /* @92:16 */
    }
    {
    r_t70 = r_syns_53 > r_t69; /* @92:9 */
    }
    {
    if (r_t70) goto L_bb24; else goto L_bb35; /* @92:9 */
    }
L_bb24: ;
    {
    r_t73 = 1001U; /* @93:21 */
    }
    {
    r_t74 = r_syns_53 == r_t73; /* @93:13 */
    }
    {
    if (r_t74) goto L_bb26; else goto L_bb29; /* @93:13 */
    }
L_bb26: ;
    {
    r_index_76 = 3U; /* @93:42 */
    }
    {
    r_t77 = 0x1ULL; /* @60:21 */
    }
    {
    u32 _t11 = r_index_76; /* @60:5 */
    r_h78 = stats.lookup(&_t11);
    }
    {
    r_t79 = r_h78 ? r_h78->f_value : 0; /* @60:5 */
    }
    {
    r_t80 = (u64)(r_t79 + r_t77); /* @60:5 */
    }
    {
    if (r_h78) r_h78->f_value = r_t80; /* @60:5 */
    }
    {
    goto L_bb29; /* @93:42 */
    }
L_bb29: ;
    {
    r_t81 = 0x2540be400ULL; /* @94:31 */
    }
    {
    r_t82 = (u64)(r_t_10 + r_t81); /* @94:27 */
    }
    {
    r_attack_until_ns_68 = r_t82; /* @94:9 */
    }
    {
    struct dst_windows_key _t12; __builtin_memset(&_t12, 0, sizeof(_t12)); /* @95:9 */
    _t12.f_key = r_dst_8;
    r_h83 = dst_windows.lookup(&_t12);
    }
    {
    r_t84 = r_h83 != NULL; /* @95:9 */
    }
    {
    if (r_t84) goto L_bb30; else goto L_bb31; /* @95:9 */
    }
L_bb31: ;
    {
    r_t85 = 0x0ULL; /* @95:9 */
    }
    {
    r_t86 = 0U; /* @95:9 */
    }
    {
    struct dst_windows_key _t13; __builtin_memset(&_t13, 0, sizeof(_t13)); /* @95:9 */
    _t13.f_key = r_dst_8;
    struct dst_windows_value _t14; __builtin_memset(&_t14, 0, sizeof(_t14));
    _t14.f_start_ns = r_t85;
    _t14.f_syns = r_t86;
    _t14.f_attack_until_ns = r_attack_until_ns_68;
    r_t87 = dst_windows.update(&_t13, &_t14) == 0;
    }
    {
    if (r_t87) goto L_bb35; else goto L_bb33; /* @95:9 */
    }
L_bb33: ;
    {
    return 0; /* pass */ /* @95:9 */
    }
L_bb30: ;
    {
    if (r_h83) r_h83->f_attack_until_ns = r_attack_until_ns_68; /* @95:9 */
    }
    {
    goto L_bb35; /* @92:5 */
    }
L_bb35: ;
    {
    r_t88 = r_t_10 >= r_attack_until_ns_68; /* @97:9 */
    }
    {
    if (r_t88) goto L_bb36; else goto L_bb37; /* @97:9 */
    }
L_bb37: ;
    {
    struct known_key _t15; __builtin_memset(&_t15, 0, sizeof(_t15)); /* @100:11 */
    _t15.f_key = r_src_6;
    r_h89 = known.lookup(&_t15);
    }
    {
    r_t90 = r_h89 != NULL; /* @100:11 */
    }
    {
    if (r_t90) goto L_bb40; else goto L_bb38; /* @100:11 */
    }
L_bb40: ;
    {
    r_h91 = r_h89; /* @100:33 */
    }
    {
    r_t92 = r_h91 ? r_h91->f_value : 0; /* @100:33 */
    }
    {
    r_t93 = r_t_10 > r_t92; /* @100:29 */
    }
    {
    if (r_t93) goto L_bb41; else goto L_bb39; /* @100:29 */
    }
L_bb41: ;
    {
    r_h94 = r_h89; /* @100:51 */
    }
    {
    r_t95 = r_h94 ? r_h94->f_value : 0; /* @100:51 */
    }
    {
    r_t96 = (u64)(r_t_10 - r_t95); /* @100:47 */
    }
    {
    r_t97 = 0x34630b8a000ULL; /* @100:64 */
    }
    {
    r_t98 = r_t96 > r_t97; /* @100:47 */
    }
    {
    if (r_t98) goto L_bb38; else goto L_bb39; /* @100:47 */
    }
L_bb39: ;
    {
    struct src_windows_key _t16; __builtin_memset(&_t16, 0, sizeof(_t16)); /* @104:13 */
    _t16.f_key = r_src_6;
    r_h105 = src_windows.lookup(&_t16);
    }
    {
    r_t106 = r_h105 ? r_h105->f_start_ns : 0; /* @104:13 */
    }
    {
    r_t107 = r_h105 ? r_h105->f_syns : 0; /* @104:13 */
    }
    {
    r_s_108 = r_t106; /* @104:5 */
    }
    {
    r_s_109 = r_t107; /* @104:5 */
    }
    {
    r_src_syns_111 = 1U; /* @105:5 */
    }
    {
    r_t112 = 0x3b9aca00ULL; /* @106:27 */
    }
    {
    r_t113 = (u64)(r_s_108 + r_t112); /* @106:14 */
    }
    {
    r_t114 = r_t_10 >= r_t113; /* @106:9 */
    }
    {
    r_t115 = r_t_10 < r_s_108; /* @106:40 */
    }
    {
    r_t116 = (u8)(r_t114 | r_t115); /* @106:9 */
    }
    {
    if (r_t116) goto L_bb43; else goto L_bb44; /* @106:9 */
    }
L_bb44: ;
    {
    r_t119 = 1U; /* @109:29 */
    }
    {
    r_t120 = (u32)(r_s_109 + r_t119); /* @109:20 */
    }
    {
    r_src_syns_111 = r_t120; /* @109:9 */
    }
    {
    r_h121 = r_h105; /* @110:9 */
    }
    {
    r_t122 = r_h121 != NULL; /* @110:9 */
    }
    {
    if (r_t122) goto L_bb45; else goto L_bb46; /* @110:9 */
    }
L_bb46: ;
    {
    r_t123 = 0x0ULL; /* @110:9 */
    }
    {
    struct src_windows_key _t17; __builtin_memset(&_t17, 0, sizeof(_t17)); /* @110:9 */
    _t17.f_key = r_src_6;
    struct src_windows_value _t18; __builtin_memset(&_t18, 0, sizeof(_t18));
    _t18.f_start_ns = r_t123;
    _t18.f_syns = r_src_syns_111;
    r_t124 = src_windows.update(&_t17, &_t18) == 0;
    }
    {
    goto L_bb48; /* @106:5 */
    }
L_bb45: ;
    {
    if (r_h121) r_h121->f_syns = r_src_syns_111; /* @110:9 */
    }
    {
    goto L_bb48; /* @106:5 */
    }
L_bb43: ;
    {
    r_t117 = 1U; /* @107:59 */
    }
    {
    r_found2 = r_h105 != NULL; /* @107:9 */
    }
    {
    if (r_found2) goto L_inplace2; else goto L_update2; /* @107:9 */
    }
L_update2: ;
    {
    struct src_windows_key _t19; __builtin_memset(&_t19, 0, sizeof(_t19)); /* @107:9 */
    _t19.f_key = r_src_6;
    struct src_windows_value _t20; __builtin_memset(&_t20, 0, sizeof(_t20));
    _t20.f_start_ns = r_t_10;
    _t20.f_syns = r_t117;
    r_t118 = src_windows.update(&_t19, &_t20) == 0;
    }
    {
    goto L_bb48; /* @107:9 */
    }
L_inplace2: ;
    {
    if (r_h105) r_h105->f_start_ns = r_t_10; /* @107:9 */
    }
    {
    if (r_h105) r_h105->f_syns = r_t117; /* @107:9 */
    }
    {
    goto L_bb48; /* @107:9 */
    }
L_bb48: ;
    {
    r_t125 = 20U; /* @112:20 */
    }
    {
    r_t126 = r_src_syns_111 > r_t125; /* @112:9 */
    }
    {
    if (r_t126) goto L_bb49; else goto L_bb50; /* @112:9 */
    }
L_bb50: ;
    {
    return 0; /* pass */ /* @116:5 */
    }
L_bb49: ;
    {
    r_index_128 = 2U; /* @113:9 */
    }
    {
    r_t129 = 0x1ULL; /* @60:21 */
    }
    {
    u32 _t21 = r_index_128; /* @60:5 */
    r_h130 = stats.lookup(&_t21);
    }
    {
    r_t131 = r_h130 ? r_h130->f_value : 0; /* @60:5 */
    }
    {
    r_t132 = (u64)(r_t131 + r_t129); /* @60:5 */
    }
    {
    if (r_h130) r_h130->f_value = r_t132; /* @60:5 */
    }
    {
    return 2; /* drop */ /* @114:9 */
    }
L_bb38: ;
    {
    r_index_100 = 1U; /* @101:9 */
    }
    {
    r_t101 = 0x1ULL; /* @60:21 */
    }
    {
    u32 _t22 = r_index_100; /* @60:5 */
    r_h102 = stats.lookup(&_t22);
    }
    {
    r_t103 = r_h102 ? r_h102->f_value : 0; /* @60:5 */
    }
    {
    r_t104 = (u64)(r_t103 + r_t101); /* @60:5 */
    }
    {
    if (r_h102) r_h102->f_value = r_t104; /* @60:5 */
    }
    {
    return 2; /* drop */ /* @102:9 */
    }
L_bb36: ;
    {
    return 0; /* pass */ /* @97:33 */
    }
L_bb1: ;
    {
    return 0; /* pass */ /* @64:38 */
    }
}
