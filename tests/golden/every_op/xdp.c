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
typedef u32 arith_index_t;
struct arith_value { u64 f_value; };
BPF_F_TABLE("array", arith_index_t, struct arith_value, arith, 16, 0);
struct words_key { u16 f_f0; u8 f_f1; };
struct words_value { u32 f_f0; u64 f_f1; };
BPF_F_TABLE("hash", struct words_key, struct words_value, words, 64, 0);
struct lru_key { u32 f_key; };
struct lru_value { u32 f_value; };
BPF_F_TABLE("lru_hash", struct lru_key, struct lru_value, lru, 1024, 0);
struct routes_key { u32 prefixlen; u8 addr[4]; };
struct routes_value { u16 f_value; };
BPF_F_TABLE("lpm_trie", struct routes_key, struct routes_value, routes, 16, BPF_F_NO_PREALLOC);
typedef u32 pc_index_t;
struct pc_value { u32 f_value; };
BPF_F_TABLE("percpu_array", pc_index_t, struct pc_value, pc, 4, 0);
typedef u32 cms_index_t;
struct cms_value { u32 f_count; };
BPF_F_TABLE("array", cms_index_t, struct cms_value, cms, 128, 0);
struct six_key { unsigned __int128 f_key; };
struct six_value { u64 f_value; };
BPF_F_TABLE("hash", struct six_key, struct six_value, six, 32, 0);
struct macs_key { u64 f_key; };
struct macs_value { u8 f_value; };
BPF_F_TABLE("hash", struct macs_key, struct macs_value, macs, 16, 0);
int cora_xdp(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u32 r_t0 = 0;
    u32 r_a_1 = 0;
    u8 r_t2 = 0;
    u8 r_b_3 = 0;
    u32 r_t4 = 0;
    u32 r_t5 = 0;
    u32 r_t6 = 0;
    u32 r_t7 = 0;
    u32 r_t8 = 0;
    u64 r_t9 = 0;
    u8 r_t10 = 0;
    u32 r_t11 = 0;
    u32 r_t12 = 0;
    u32 r_t13 = 0;
    u32 r_t14 = 0;
    u32 r_t15 = 0;
    u64 r_t16 = 0;
    u8 r_t17 = 0;
    u32 r_t18 = 0;
    u8 r_t19 = 0;
    u8 r_t20 = 0;
    u32 r_t21 = 0;
    u32 r_t22 = 0;
    u64 r_t23 = 0;
    u8 r_t24 = 0;
    u32 r_t25 = 0;
    u8 r_t26 = 0;
    u8 r_t27 = 0;
    u32 r_t28 = 0;
    u32 r_t29 = 0;
    u64 r_t30 = 0;
    u64 r_t31 = 0;
    u64 r_t32 = 0;
    u8 r_t33 = 0;
    u32 r_t34 = 0;
    u32 r_t35 = 0;
    u64 r_t36 = 0;
    u64 r_t37 = 0;
    u64 r_t38 = 0;
    u8 r_t39 = 0;
    u32 r_t40 = 0;
    u64 r_t41 = 0;
    u32 r_t42 = 0;
    u64 r_t43 = 0;
    u8 r_t44 = 0;
    u32 r_t45 = 0;
    u64 r_t46 = 0;
    u8 r_t47 = 0;
    u32 r_t48 = 0;
    u32 r_t49 = 0;
    u64 r_t50 = 0;
    u8 r_t51 = 0;
    u32 r_t52 = 0;
    u32 r_t53 = 0;
    u64 r_t54 = 0;
    u64 r_t55 = 0;
    u64 r_t56 = 0;
    u8 r_t57 = 0;
    u64 r_t58 = 0;
    u8 r_t59 = 0;
    u32 r_t60 = 0;
    u32 r_t61 = 0;
    u32 r_t62 = 0;
    struct pc_value *r_h63 = NULL;
    u32 r_t64 = 0;
    u32 r_t65 = 0;
    u64 r_t66 = 0;
    u32 r_t67 = 0;
    u32 r_t68 = 0;
    u32 r_t69 = 0;
    u32 r_t70 = 0;
    u32 r_t71 = 0;
    u32 r_t72 = 0;
    u32 r_t73 = 0;
    struct cms_value *r_h74 = NULL;
    u32 r_t75 = 0;
    u32 r_t76 = 0;
    struct cms_value *r_h77 = NULL;
    u32 r_t78 = 0;
    u32 r_t79 = 0;
    u32 r_t80 = 0;
    u64 r_t81 = 0;
    u32 r_t82 = 0;
    u32 r_t83 = 0;
    u32 r_t84 = 0;
    u32 r_t85 = 0;
    u32 r_t86 = 0;
    u32 r_t87 = 0;
    u32 r_t88 = 0;
    struct cms_value *r_h89 = NULL;
    u32 r_t90 = 0;
    struct cms_value *r_h91 = NULL;
    u32 r_t92 = 0;
    u8 r_t93 = 0;
    u32 r_t94 = 0;
    u64 r_t95 = 0;
    u8 r_t96 = 0;
    u8 r_t97 = 0;
    unsigned __int128 r_t98 = 0;
    u64 r_t99 = 0;
    struct six_value *r_h100 = NULL;
    u8 r_t101 = 0;
    u64 r_t102 = 0;
    u64 r_t103 = 0;
    u8 r_t104 = 0;
    u8 r_t105 = 0;
    u8 r_t106 = 0;
    u8 r_t107 = 0;
    u32 r_t108 = 0;
    u8 r_t109 = 0;
    u8 r_t110 = 0;
    u8 r_t111 = 0;
    u8 r_t112 = 0;
    unsigned __int128 r_t113 = 0;
    u8 r_t114 = 0;
    u16 r_t115 = 0;
    u8 r_t116 = 0;
    u32 r_t117 = 0;
    u64 r_t118 = 0;
    u8 r_t119 = 0;
    u32 r_t120 = 0;
    u8 r_t121 = 0;
    u32 r_t122 = 0;
    u32 r_t123 = 0;
    struct routes_value *r_h124 = NULL;
    u16 r_t125 = 0;
    u64 r_t126 = 0;
    u8 r_t127 = 0;
    u32 r_t128 = 0;
    u32 r_t129 = 0;
    u32 r_t130 = 0;
    u32 r_t131 = 0;
    u8 r_t132 = 0;
    u32 r_t133 = 0;
    u32 r_t134 = 0;
    u16 r_t135 = 0;
    u8 r_t136 = 0;
    u32 r_t137 = 0;
    u32 r_t138 = 0;
    u16 r_t139 = 0;
    u8 r_t140 = 0;
    u8 r_t141 = 0;
    u8 r_t142 = 0;
    u8 r_t143 = 0;
    u8 r_t144 = 0;
    u8 r_t145 = 0;
    u8 r_t146 = 0;
    u16 r_t147 = 0;
    u16 r_t148 = 0;
    u16 r_t149 = 0;
    u8 r_t150 = 0;
    u8 r_t151 = 0;
    u8 r_t152 = 0;
    u32 r_t153 = 0;
    u8 r_t154 = 0;
    u16 r_t155 = 0;
    u32 r_t156 = 0;
    u8 r_t157 = 0;
    u16 r_t158 = 0;
    u16 r_t159 = 0;
    u16 r_t160 = 0;
    u8 r_t161 = 0;
    u8 r_t162 = 0;
    u16 r_t163 = 0;
    u8 r_t164 = 0;
    u8 r_t165 = 0;
    u8 r_t166 = 0;
    u8 r_t167 = 0;
    u8 r_t168 = 0;
    u8 r_t169 = 0;
    u8 r_t170 = 0;
    u8 r_t171 = 0;
    u8 r_t172 = 0;
    u8 r_t173 = 0;
    void *h_ethernet = data; void *h_vlan = data; void *h_ipv4 = data; void *h_ipv6 = data; void *h_tcp = data; void *h_udp = data; void *h_icmp = data;
    u8 v_ethernet = 0, v_vlan = 0, v_ipv4 = 0, v_ipv6 = 0, v_tcp = 0, v_udp = 0, v_icmp = 0;
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
            } else if (l4proto == 1) {
                if (l4 + 8 <= data_end) { v_icmp = 1; h_icmp = l4; }
            }
        }
    }
parsed:
    ;
L_bb0: ;
    {
    r_t0 = cora_pkt_len(ctx, data, data_end); /* @11:18 */
    }
    {
    r_a_1 = r_t0; /* @11:5 */
    }
    {
    r_t2 = (u8)r_a_1; /* @12:17 */
    }
    {
    r_b_3 = r_t2; /* @12:5 */
    }
    {
    r_t4 = 0U; /* @13:11 */
    }
    {
    r_t5 = (u32)r_b_3; /* @13:22 */
    }
    {
    r_t6 = 3U; /* @13:33 */
    }
    {
    r_t7 = (u32)(r_t5 & r_t6); /* @13:22 */
    }
    {
    r_t8 = (r_t7 ? (u32)(r_a_1 / r_t7) : 0); /* @13:17 */
    }
    {
    r_t9 = (u64)r_t8; /* @13:16 */
    }
    {
    u32 _t1 = r_t4; /* @13:5 */
    struct arith_value _t2; __builtin_memset(&_t2, 0, sizeof(_t2));
    _t2.f_value = r_t9;
    r_t10 = arith.update(&_t1, &_t2) == 0;
    }
    {
    r_t11 = 1U; /* @14:11 */
    }
    {
    r_t12 = (u32)r_b_3; /* @14:22 */
    }
    {
    r_t13 = 1U; /* @14:33 */
    }
    {
    r_t14 = (u32)(r_t12 & r_t13); /* @14:22 */
    }
    {
    r_t15 = (r_t14 ? (u32)(r_a_1 % r_t14) : r_a_1); /* @14:17 */
    }
    {
    r_t16 = (u64)r_t15; /* @14:16 */
    }
    {
    u32 _t3 = r_t11; /* @14:5 */
    struct arith_value _t4; __builtin_memset(&_t4, 0, sizeof(_t4));
    _t4.f_value = r_t16;
    r_t17 = arith.update(&_t3, &_t4) == 0;
    }
    {
    r_t18 = 2U; /* @15:11 */
    }
    {
    r_t19 = 63U; /* @15:28 */
    }
    {
    r_t20 = (u8)(r_b_3 & r_t19); /* @15:24 */
    }
    {
    r_t21 = (u32)r_t20; /* @15:18 */
    }
    {
    r_t22 = (r_t21 >= 32 ? 0 : (u32)((u32)r_a_1 << r_t21)); /* @15:18 */
    }
    {
    r_t23 = (u64)r_t22; /* @15:17 */
    }
    {
    u32 _t5 = r_t18; /* @15:5 */
    struct arith_value _t6; __builtin_memset(&_t6, 0, sizeof(_t6));
    _t6.f_value = r_t23;
    r_t24 = arith.update(&_t5, &_t6) == 0;
    }
    {
    r_t25 = 3U; /* @16:11 */
    }
    {
    r_t26 = 7U; /* @16:28 */
    }
    {
    r_t27 = (u8)(r_b_3 & r_t26); /* @16:24 */
    }
    {
    r_t28 = (u32)r_t27; /* @16:18 */
    }
    {
    r_t29 = (r_t28 >= 32 ? 0 : (u32)((u32)r_a_1 >> r_t28)); /* @16:18 */
    }
    {
    r_t30 = (u64)r_t29; /* @16:17 */
    }
    {
    r_t31 = 0xffffffffULL; /* @16:42 */
    }
    {
    r_t32 = (u64)(r_t30 * r_t31); /* @16:16 */
    }
    {
    u32 _t7 = r_t25; /* @16:5 */
    struct arith_value _t8; __builtin_memset(&_t8, 0, sizeof(_t8));
    _t8.f_value = r_t32;
    r_t33 = arith.update(&_t7, &_t8) == 0;
    }
    {
    r_t34 = 4U; /* @17:11 */
    }
    {
    r_t35 = (u32)~r_a_1; /* @17:17 */
    }
    {
    r_t36 = (u64)r_t35; /* @17:16 */
    }
    {
    r_t37 = 0x5ULL; /* @17:30 */
    }
    {
    r_t38 = (u64)(r_t36 - r_t37); /* @17:16 */
    }
    {
    u32 _t9 = r_t34; /* @17:5 */
    struct arith_value _t10; __builtin_memset(&_t10, 0, sizeof(_t10));
    _t10.f_value = r_t38;
    r_t39 = arith.update(&_t9, &_t10) == 0;
    }
    {
    r_t40 = 5U; /* @18:11 */
    }
    {
    r_t41 = 0; /* @18:27 */
    if (v_ethernet) {
        r_t41 = (u64)(((u64)bpf_ntohl(*(u32 *)(h_ethernet + 6)) << 16) | ((u64)bpf_ntohs(*(u16 *)(h_ethernet + 10)))); /* @18:27 */
    }
    }
    {
    u64 _t11 = 0x9e3779b97f4a7c15ULL; /* @18:16 */
    _t11 = cora_mix64(_t11 ^ (u64)r_a_1);
    _t11 = cora_mix64(_t11 ^ (u64)r_b_3);
    _t11 = cora_mix64(_t11 ^ (u64)r_t41);
    r_t42 = (u32)(_t11 ^ (_t11 >> 32)); /* @18:16 */
    }
    {
    r_t43 = (u64)r_t42; /* @18:16 */
    }
    {
    u32 _t12 = r_t40; /* @18:5 */
    struct arith_value _t13; __builtin_memset(&_t13, 0, sizeof(_t13));
    _t13.f_value = r_t43;
    r_t44 = arith.update(&_t12, &_t13) == 0;
    }
    {
    r_t45 = 6U; /* @19:11 */
    }
    {
    r_t46 = bpf_ktime_get_ns(); /* @19:16 */
    }
    {
    u32 _t14 = r_t45; /* @19:5 */
    struct arith_value _t15; __builtin_memset(&_t15, 0, sizeof(_t15));
    _t15.f_value = r_t46;
    r_t47 = arith.update(&_t14, &_t15) == 0;
    }
    {
    r_t48 = 7U; /* @20:11 */
    }
    {
    r_t49 = bpf_get_prandom_u32(); /* @20:16 */
    }
    {
    r_t50 = (u64)r_t49; /* @20:16 */
    }
    {
    u32 _t16 = r_t48; /* @20:5 */
    struct arith_value _t17; __builtin_memset(&_t17, 0, sizeof(_t17));
    _t17.f_value = r_t50;
    r_t51 = arith.update(&_t16, &_t17) == 0;
    }
    {
    r_t52 = 8U; /* @21:11 */
    }
    {
    r_t53 = bpf_get_prandom_u32(); /* @21:16 */
    }
    {
    r_t54 = (u64)r_t53; /* @21:16 */
    }
    {
    r_t55 = 0x7ULL; /* @21:32 */
    }
    {
    r_t56 = (u64)(r_t54 ^ r_t55); /* @21:16 */
    }
    {
    u32 _t18 = r_t52; /* @21:5 */
    struct arith_value _t19; __builtin_memset(&_t19, 0, sizeof(_t19));
    _t19.f_value = r_t56;
    r_t57 = arith.update(&_t18, &_t19) == 0;
    }
    {
    r_t58 = 0; /* @22:10 */
    if (v_ethernet) {
        r_t58 = (u64)(((u64)bpf_ntohl(*(u32 *)(h_ethernet + 6)) << 16) | ((u64)bpf_ntohs(*(u16 *)(h_ethernet + 10)))); /* @22:10 */
    }
    }
    {
    struct macs_key _t20; __builtin_memset(&_t20, 0, sizeof(_t20)); /* @22:5 */
    _t20.f_key = r_t58;
    struct macs_value _t21; __builtin_memset(&_t21, 0, sizeof(_t21));
    _t21.f_value = r_b_3;
    r_t59 = macs.update(&_t20, &_t21) == 0;
    }
    {
    if (r_t59) goto L_bb1; else goto L_bb2; /* @22:5 */
    }
L_bb2: ;
    {
    return 2; /* pass */ /* @22:5 */
    }
L_bb1: ;
    {
    r_t60 = 3U; /* @23:12 */
    }
    {
    r_t61 = (u32)(r_a_1 & r_t60); /* @23:8 */
    }
    {
    r_t62 = 1U; /* @23:18 */
    }
    {
    u32 _t22 = r_t61; /* @23:5 */
    r_h63 = pc.lookup(&_t22);
    }
    {
    r_t64 = r_h63 ? r_h63->f_value : 0; /* @23:5 */
    }
    {
    r_t65 = (u32)(r_t64 + r_t62); /* @23:5 */
    }
    {
    if (r_h63) r_h63->f_value = r_t65; /* @23:5 */
    }
    {
    r_t66 = 0; /* @24:13 */
    if (v_ethernet) {
        r_t66 = (u64)(((u64)bpf_ntohl(*(u32 *)(h_ethernet + 0)) << 16) | ((u64)bpf_ntohs(*(u16 *)(h_ethernet + 4)))); /* @24:13 */
    }
    }
    {
    r_t67 = 64U; /* @24:5 */
    }
    {
    u64 _t23 = 0x9e3779b97f4a7c16ULL; /* @24:5 */
    _t23 = cora_mix64(_t23 ^ (u64)r_t66);
    r_t68 = (u32)(_t23 ^ (_t23 >> 32)); /* @24:5 */
    }
    {
    r_t69 = (r_t67 ? (u32)(r_t68 % r_t67) : r_t68); /* @24:5 */
    }
    {
    u64 _t24 = 0x9e3779b97f4a7c17ULL; /* @24:5 */
    _t24 = cora_mix64(_t24 ^ (u64)r_t66);
    r_t70 = (u32)(_t24 ^ (_t24 >> 32)); /* @24:5 */
    }
    {
    r_t71 = (r_t67 ? (u32)(r_t70 % r_t67) : r_t70); /* @24:5 */
    }
    {
    r_t72 = 64U; /* @24:5 */
    }
    {
    r_t73 = (u32)(r_t71 + r_t72); /* @24:5 */
    }
    {
    u32 _t25 = r_t69; /* @24:5 */
    r_h74 = cms.lookup(&_t25);
    }
    {
    r_t75 = r_h74 ? r_h74->f_count : 0; /* @24:5 */
    }
    {
    r_t76 = (u32)(r_t75 + r_a_1); /* @24:5 */
    }
    {
    if (r_h74) r_h74->f_count = r_t76; /* @24:5 */
    }
    {
    u32 _t26 = r_t73; /* @24:5 */
    r_h77 = cms.lookup(&_t26);
    }
    {
    r_t78 = r_h77 ? r_h77->f_count : 0; /* @24:5 */
    }
    {
    r_t79 = (u32)(r_t78 + r_a_1); /* @24:5 */
    }
    {
    if (r_h77) r_h77->f_count = r_t79; /* @24:5 */
    }
    {
    r_t80 = 9U; /* @25:11 */
    }
    {
    r_t81 = 0; /* @25:29 */
    if (v_ethernet) {
        r_t81 = (u64)(((u64)bpf_ntohl(*(u32 *)(h_ethernet + 0)) << 16) | ((u64)bpf_ntohs(*(u16 *)(h_ethernet + 4)))); /* @25:29 */
    }
    }
    {
    r_t82 = 64U; /* @25:16 */
    }
    {
    u64 _t27 = 0x9e3779b97f4a7c16ULL; /* @25:16 */
    _t27 = cora_mix64(_t27 ^ (u64)r_t81);
    r_t83 = (u32)(_t27 ^ (_t27 >> 32)); /* @25:16 */
    }
    {
    r_t84 = (r_t82 ? (u32)(r_t83 % r_t82) : r_t83); /* @25:16 */
    }
    {
    u64 _t28 = 0x9e3779b97f4a7c17ULL; /* @25:16 */
    _t28 = cora_mix64(_t28 ^ (u64)r_t81);
    r_t85 = (u32)(_t28 ^ (_t28 >> 32)); /* @25:16 */
    }
    {
    r_t86 = (r_t82 ? (u32)(r_t85 % r_t82) : r_t85); /* @25:16 */
    }
    {
    r_t87 = 64U; /* @25:16 */
    }
    {
    r_t88 = (u32)(r_t86 + r_t87); /* @25:16 */
    }
    {
    u32 _t29 = r_t84; /* @25:16 */
    r_h89 = cms.lookup(&_t29);
    }
    {
    r_t90 = r_h89 ? r_h89->f_count : 0; /* @25:16 */
    }
    {
    u32 _t30 = r_t88; /* @25:16 */
    r_h91 = cms.lookup(&_t30);
    }
    {
    r_t92 = r_h91 ? r_h91->f_count : 0; /* @25:16 */
    }
    {
    r_t93 = r_t92 < r_t90; /* @25:16 */
    }
    {
    r_t94 = r_t93 ? r_t92 : r_t90; /* @25:16 */
    }
    {
    r_t95 = (u64)r_t94; /* @25:16 */
    }
    {
    u32 _t31 = r_t80; /* @25:5 */
    struct arith_value _t32; __builtin_memset(&_t32, 0, sizeof(_t32));
    _t32.f_value = r_t95;
    r_t96 = arith.update(&_t31, &_t32) == 0;
    }
    {
    r_t97 = v_ipv6; /* @26:9 */
    }
    {
    if (r_t97) goto L_bb3; else goto L_bb13; /* @26:9 */
    }
L_bb3: ;
    {
    r_t98 = 0; /* @27:13 */
    if (v_ipv6) {
        r_t98 = (unsigned __int128)(((unsigned __int128)__builtin_bswap64(*(u64 *)(h_ipv6 + 8)) << 64) | ((unsigned __int128)__builtin_bswap64(*(u64 *)(h_ipv6 + 16)))); /* @27:13 */
    }
    }
    {
    r_t99 = 0x1ULL; /* @27:28 */
    }
    {
    struct six_key _t33; __builtin_memset(&_t33, 0, sizeof(_t33)); /* @27:9 */
    _t33.f_key = r_t98;
    r_h100 = six.lookup(&_t33);
    }
    {
    r_t101 = r_h100 != NULL; /* @27:9 */
    }
    {
    if (r_t101) goto L_bb5; else goto L_bb6; /* @27:9 */
    }
L_bb6: ;
    {
    struct six_key _t34; __builtin_memset(&_t34, 0, sizeof(_t34)); /* @27:9 */
    _t34.f_key = r_t98;
    struct six_value _t35; __builtin_memset(&_t35, 0, sizeof(_t35));
    _t35.f_value = r_t99;
    r_t104 = six.update(&_t34, &_t35) == 0;
    }
    {
    if (r_t104) goto L_bb9; else goto L_bb8; /* @27:9 */
    }
L_bb8: ;
    {
    return 1; /* drop */ /* @27:9 */
    }
L_bb5: ;
    {
    r_t102 = r_h100 ? r_h100->f_value : 0; /* @27:9 */
    }
    {
    r_t103 = (u64)(r_t102 + r_t99); /* @27:9 */
    }
    {
    if (r_h100) r_h100->f_value = r_t103; /* @27:9 */
    }
    {
    goto L_bb9; /* @26:5 */
    }
L_bb9: ;
    {
    r_t105 = 0; /* @28:26 */
    if (v_ipv6) {
        r_t105 = (u8)(((u64)(*(u8 *)(h_ipv6 + 7)))); /* @28:26 */
    }
    }
    {
    r_t106 = 1U; /* @28:43 */
    }
    {
    r_t107 = (u8)(r_t105 - r_t106); /* @28:26 */
    }
    {
    if (v_ipv6) { /* store ipv6.hop_limit */ /* @28:9 */
        *(u8 *)(h_ipv6 + 7) = ((u8)(r_t107));
    }
    }
    {
    r_t108 = 74565U; /* @29:27 */
    }
    {
    if (v_ipv6) { /* store ipv6.flow_label */ /* @29:9 */
        u64 _t38 = (((u64)bpf_ntohs(*(u16 *)(h_ipv6 + 1)) << 8) | ((u64)(*(u8 *)(h_ipv6 + 3))));
        _t38 = (_t38 & ~(u64)0xfffffULL) | (((u64)r_t108 << 0) & 0xfffffULL);
        *(u16 *)(h_ipv6 + 1) = bpf_ntohs((u16)(_t38 >> 8));
        *(u8 *)(h_ipv6 + 3) = ((u8)(_t38));
    }
    }
    {
    r_t109 = 1U; /* @30:17 */
    }
    {
    r_t110 = (u8)(r_b_3 & r_t109); /* @30:13 */
    }
    {
    r_t111 = 1U; /* @30:22 */
    }
    {
    r_t112 = r_t110 == r_t111; /* @30:13 */
    }
    {
    if (r_t112) goto L_bb10; else goto L_bb13; /* @30:13 */
    }
L_bb10: ;
    {
    r_t113 = 0; /* @30:40 */
    if (v_ipv6) {
        r_t113 = (unsigned __int128)(((unsigned __int128)__builtin_bswap64(*(u64 *)(h_ipv6 + 8)) << 64) | ((unsigned __int128)__builtin_bswap64(*(u64 *)(h_ipv6 + 16)))); /* @30:40 */
    }
    }
    {
    if (v_ipv6) { /* store ipv6.daddr */ /* @30:27 */
        u32 _t39 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv6 + 24))) + (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv6 + 26))) + (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv6 + 28))) + (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv6 + 30))) + (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv6 + 32))) + (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv6 + 34))) + (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv6 + 36))) + (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv6 + 38)));
        *(u64 *)(h_ipv6 + 24) = __builtin_bswap64((u64)(r_t113 >> 64));
        *(u64 *)(h_ipv6 + 32) = __builtin_bswap64((u64)(r_t113));
        u32 _t40 = (u32)bpf_ntohs(*(u16 *)(h_ipv6 + 24)) + (u32)bpf_ntohs(*(u16 *)(h_ipv6 + 26)) + (u32)bpf_ntohs(*(u16 *)(h_ipv6 + 28)) + (u32)bpf_ntohs(*(u16 *)(h_ipv6 + 30)) + (u32)bpf_ntohs(*(u16 *)(h_ipv6 + 32)) + (u32)bpf_ntohs(*(u16 *)(h_ipv6 + 34)) + (u32)bpf_ntohs(*(u16 *)(h_ipv6 + 36)) + (u32)bpf_ntohs(*(u16 *)(h_ipv6 + 38));
        if (v_tcp) {
            u32 _t41 = bpf_ntohs(*(u16 *)(h_tcp + 16));
            {
                u32 _t42 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t41) + _t39 + _t40);
                *(u16 *)(h_tcp + 16) = bpf_htons((u16)_t42);
            }
        }
        if (v_udp) {
            u32 _t43 = bpf_ntohs(*(u16 *)(h_udp + 6));
            if (_t43 != 0) {
                u32 _t44 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t43) + _t39 + _t40);
                if (_t44 == 0) _t44 = 0xffff;
                *(u16 *)(h_udp + 6) = bpf_htons((u16)_t44);
            }
        }
    }
    }
    {
    goto L_bb13; /* @30:9 */
    }
L_bb13: ;
    {
    r_t114 = v_ipv4; /* @32:9 */
    }
    {
    if (r_t114) goto L_bb14; else goto L_bb28; /* @32:9 */
    }
L_bb14: ;
    {
    r_t115 = 0; /* @33:16 */
    if (v_ipv4) {
        r_t115 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_ipv4 + 4)))); /* @33:16 */
    }
    }
    {
    r_t116 = 0; /* @33:25 */
    if (v_ipv4) {
        r_t116 = (u8)(((u64)(*(u8 *)(h_ipv4 + 8)))); /* @33:25 */
    }
    }
    {
    r_t117 = 0; /* @33:39 */
    if (v_ipv4) {
        r_t117 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @33:39 */
    }
    }
    {
    r_t118 = bpf_ktime_get_ns(); /* @33:51 */
    }
    {
    struct words_key _t45; __builtin_memset(&_t45, 0, sizeof(_t45)); /* @33:9 */
    _t45.f_f0 = r_t115;
    _t45.f_f1 = r_t116;
    struct words_value _t46; __builtin_memset(&_t46, 0, sizeof(_t46));
    _t46.f_f0 = r_t117;
    _t46.f_f1 = r_t118;
    r_t119 = words.update(&_t45, &_t46) == 0;
    }
    {
    r_t120 = 0; /* @34:13 */
    if (v_ipv4) {
        r_t120 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @34:13 */
    }
    }
    {
    struct lru_key _t47; __builtin_memset(&_t47, 0, sizeof(_t47)); /* @34:9 */
    _t47.f_key = r_t120;
    struct lru_value _t48; __builtin_memset(&_t48, 0, sizeof(_t48));
    _t48.f_value = r_a_1;
    r_t121 = lru.update(&_t47, &_t48) == 0;
    }
    {
    r_t122 = 10U; /* @35:15 */
    }
    {
    r_t123 = 0; /* @35:28 */
    if (v_ipv4) {
        r_t123 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 16)))); /* @35:28 */
    }
    }
    {
    struct routes_key _t49; __builtin_memset(&_t49, 0, sizeof(_t49)); /* @35:21 */
    _t49.prefixlen = 32;
    _t49.addr[0] = (u8)(r_t123 >> 24);
    _t49.addr[1] = (u8)(r_t123 >> 16);
    _t49.addr[2] = (u8)(r_t123 >> 8);
    _t49.addr[3] = (u8)(r_t123 >> 0);
    r_h124 = routes.lookup(&_t49);
    }
    {
    r_t125 = r_h124 ? r_h124->f_value : 0; /* @35:21 */
    }
    {
    r_t126 = (u64)r_t125; /* @35:21 */
    }
    {
    u32 _t50 = r_t122; /* @35:9 */
    struct arith_value _t51; __builtin_memset(&_t51, 0, sizeof(_t51));
    _t51.f_value = r_t126;
    r_t127 = arith.update(&_t50, &_t51) == 0;
    }
    {
    r_t128 = 0; /* @36:13 */
    if (v_ipv4) {
        r_t128 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @36:13 */
    }
    }
    {
    r_t129 = 4278190080U; /* @36:13 */
    }
    {
    r_t130 = (u32)(r_t128 & r_t129); /* @36:13 */
    }
    {
    r_t131 = 167772160U; /* @36:13 */
    }
    {
    r_t132 = r_t130 == r_t131; /* @36:13 */
    }
    {
    if (r_t132) goto L_bb16; else goto L_bb18; /* @36:13 */
    }
L_bb16: ;
    {
    r_t133 = 0; /* @36:48 */
    if (v_ipv4) {
        r_t133 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @36:48 */
    }
    }
    {
    r_t134 = 32U; /* @36:59 */
    }
    {
    r_t135 = 7U; /* @36:65 */
    }
    {
    struct routes_key _t52; __builtin_memset(&_t52, 0, sizeof(_t52)); /* @36:41 */
    _t52.prefixlen = r_t134;
    u32 _t53 = r_t134 == 0 ? 0 : r_t134 >= 32 ? r_t133 : r_t133 & ~(((u32)1 << (32 - r_t134)) - 1);
    _t52.addr[0] = (u8)(_t53 >> 24);
    _t52.addr[1] = (u8)(_t53 >> 16);
    _t52.addr[2] = (u8)(_t53 >> 8);
    _t52.addr[3] = (u8)(_t53 >> 0);
    struct routes_value _t54; __builtin_memset(&_t54, 0, sizeof(_t54));
    _t54.f_value = r_t135;
    r_t136 = routes.update(&_t52, &_t54) == 0;
    }
    {
    r_t137 = 0; /* @36:75 */
    if (v_ipv4) {
        r_t137 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 16)))); /* @36:75 */
    }
    }
    {
    r_t138 = 20U; /* @36:86 */
    }
    {
    r_t139 = 9U; /* @36:92 */
    }
    {
    struct routes_key _t55; __builtin_memset(&_t55, 0, sizeof(_t55)); /* @36:68 */
    _t55.prefixlen = r_t138;
    u32 _t56 = r_t138 == 0 ? 0 : r_t138 >= 32 ? r_t137 : r_t137 & ~(((u32)1 << (32 - r_t138)) - 1);
    _t55.addr[0] = (u8)(_t56 >> 24);
    _t55.addr[1] = (u8)(_t56 >> 16);
    _t55.addr[2] = (u8)(_t56 >> 8);
    _t55.addr[3] = (u8)(_t56 >> 0);
    struct routes_value _t57; __builtin_memset(&_t57, 0, sizeof(_t57));
    _t57.f_value = r_t139;
    r_t140 = routes.update(&_t55, &_t57) == 0;
    }
    {
    goto L_bb18; /* @36:9 */
    }
L_bb18: ;
    {
    r_t141 = 0; /* @37:20 */
    if (v_ipv4) {
        r_t141 = (u8)(((u64)(*(u8 *)(h_ipv4 + 8)))); /* @37:20 */
    }
    }
    {
    r_t142 = 1U; /* @37:31 */
    }
    {
    r_t143 = (u8)(r_t141 - r_t142); /* @37:20 */
    }
    {
    if (v_ipv4) { /* store ipv4.ttl */ /* @37:9 */
        u32 _t58 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 8)));
        *(u8 *)(h_ipv4 + 8) = ((u8)(r_t143));
        u32 _t59 = (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 8));
        if (1) {
            u32 _t60 = bpf_ntohs(*(u16 *)(h_ipv4 + 10));
            {
                u32 _t61 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t60) + _t58 + _t59);
                *(u16 *)(h_ipv4 + 10) = bpf_htons((u16)_t61);
            }
        }
    }
    }
    {
    r_t144 = 46U; /* @38:21 */
    }
    {
    if (v_ipv4) { /* store ipv4.dscp */ /* @38:9 */
        u32 _t62 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 0)));
        u64 _t63 = (((u64)(*(u8 *)(h_ipv4 + 1))));
        _t63 = (_t63 & ~(u64)0xfcULL) | (((u64)r_t144 << 2) & 0xfcULL);
        *(u8 *)(h_ipv4 + 1) = ((u8)(_t63));
        u32 _t64 = (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 0));
        if (1) {
            u32 _t65 = bpf_ntohs(*(u16 *)(h_ipv4 + 10));
            {
                u32 _t66 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t65) + _t62 + _t64);
                *(u16 *)(h_ipv4 + 10) = bpf_htons((u16)_t66);
            }
        }
    }
    }
    {
    r_t145 = 1U; /* @39:20 */
    }
    {
    if (v_ipv4) { /* store ipv4.ecn */ /* @39:9 */
        u32 _t67 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 0)));
        u64 _t68 = (((u64)(*(u8 *)(h_ipv4 + 1))));
        _t68 = (_t68 & ~(u64)0x3ULL) | (((u64)r_t145 << 0) & 0x3ULL);
        *(u8 *)(h_ipv4 + 1) = ((u8)(_t68));
        u32 _t69 = (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 0));
        if (1) {
            u32 _t70 = bpf_ntohs(*(u16 *)(h_ipv4 + 10));
            {
                u32 _t71 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t70) + _t67 + _t69);
                *(u16 *)(h_ipv4 + 10) = bpf_htons((u16)_t71);
            }
        }
    }
    }
    {
    r_t146 = v_tcp; /* @40:13 */
    }
    {
    if (r_t146) goto L_bb19; else goto L_bb20; /* @40:13 */
    }
L_bb20: ;
    {
    r_t154 = v_udp; /* @44:20 */
    }
    {
    if (r_t154) goto L_bb21; else goto L_bb22; /* @44:20 */
    }
L_bb22: ;
    {
    r_t157 = v_icmp; /* @47:20 */
    }
    {
    if (r_t157) goto L_bb23; else goto L_bb28; /* @47:20 */
    }
L_bb23: ;
    {
    r_t158 = 0; /* @48:24 */
    if (v_icmp) {
        r_t158 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_icmp + 6)))); /* @48:24 */
    }
    }
    {
    r_t159 = 1U; /* @48:35 */
    }
    {
    r_t160 = (u16)(r_t158 + r_t159); /* @48:24 */
    }
    {
    if (v_icmp) { /* store icmp.seq */ /* @48:13 */
        u32 _t72 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_icmp + 6)));
        *(u16 *)(h_icmp + 6) = bpf_ntohs((u16)(r_t160));
        u32 _t73 = (u32)bpf_ntohs(*(u16 *)(h_icmp + 6));
        if (1) {
            u32 _t74 = bpf_ntohs(*(u16 *)(h_icmp + 2));
            {
                u32 _t75 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t74) + _t72 + _t73);
                *(u16 *)(h_icmp + 2) = bpf_htons((u16)_t75);
            }
        }
    }
    }
    {
    r_t161 = 0U; /* @49:25 */
    }
    {
    if (v_icmp) { /* store icmp.type */ /* @49:13 */
        u32 _t76 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_icmp + 0)));
        *(u8 *)(h_icmp + 0) = ((u8)(r_t161));
        u32 _t77 = (u32)bpf_ntohs(*(u16 *)(h_icmp + 0));
        if (1) {
            u32 _t78 = bpf_ntohs(*(u16 *)(h_icmp + 2));
            {
                u32 _t79 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t78) + _t76 + _t77);
                *(u16 *)(h_icmp + 2) = bpf_htons((u16)_t79);
            }
        }
    }
    }
    {
    goto L_bb28; /* @47:16 */
    }
L_bb21: ;
    {
    r_t155 = 53U; /* @45:25 */
    }
    {
    if (v_udp) { /* store udp.dport */ /* @45:13 */
        u32 _t80 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_udp + 2)));
        *(u16 *)(h_udp + 2) = bpf_ntohs((u16)(r_t155));
        u32 _t81 = (u32)bpf_ntohs(*(u16 *)(h_udp + 2));
        if (1) {
            u32 _t82 = bpf_ntohs(*(u16 *)(h_udp + 6));
            if (_t82 != 0) {
                u32 _t83 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t82) + _t80 + _t81);
                if (_t83 == 0) _t83 = 0xffff;
                *(u16 *)(h_udp + 6) = bpf_htons((u16)_t83);
            }
        }
    }
    }
    {
    r_t156 = 3232235777U; /* @46:26 */
    }
    {
    if (v_ipv4) { /* store ipv4.daddr */ /* @46:13 */
        u32 _t84 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 16))) + (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 18)));
        *(u32 *)(h_ipv4 + 16) = bpf_ntohl((u32)(r_t156));
        u32 _t85 = (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 16)) + (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 18));
        if (1) {
            u32 _t86 = bpf_ntohs(*(u16 *)(h_ipv4 + 10));
            {
                u32 _t87 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t86) + _t84 + _t85);
                *(u16 *)(h_ipv4 + 10) = bpf_htons((u16)_t87);
            }
        }
        if (v_tcp) {
            u32 _t88 = bpf_ntohs(*(u16 *)(h_tcp + 16));
            {
                u32 _t89 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t88) + _t84 + _t85);
                *(u16 *)(h_tcp + 16) = bpf_htons((u16)_t89);
            }
        }
        if (v_udp) {
            u32 _t90 = bpf_ntohs(*(u16 *)(h_udp + 6));
            if (_t90 != 0) {
                u32 _t91 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t90) + _t84 + _t85);
                if (_t91 == 0) _t91 = 0xffff;
                *(u16 *)(h_udp + 6) = bpf_htons((u16)_t91);
            }
        }
    }
    }
    {
    goto L_bb28; /* @44:16 */
    }
L_bb19: ;
    {
    r_t147 = 0; /* @41:25 */
    if (v_tcp) {
        r_t147 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_tcp + 0)))); /* @41:25 */
    }
    }
    {
    r_t148 = 1U; /* @41:37 */
    }
    {
    r_t149 = (u16)(r_t147 + r_t148); /* @41:25 */
    }
    {
    if (v_tcp) { /* store tcp.sport */ /* @41:13 */
        u32 _t92 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_tcp + 0)));
        *(u16 *)(h_tcp + 0) = bpf_ntohs((u16)(r_t149));
        u32 _t93 = (u32)bpf_ntohs(*(u16 *)(h_tcp + 0));
        if (1) {
            u32 _t94 = bpf_ntohs(*(u16 *)(h_tcp + 16));
            {
                u32 _t95 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t94) + _t92 + _t93);
                *(u16 *)(h_tcp + 16) = bpf_htons((u16)_t95);
            }
        }
    }
    }
    {
    r_t150 = 0; /* @42:25 */
    if (v_tcp) {
        r_t150 = (u8)(((u64)(*(u8 *)(h_tcp + 13)))); /* @42:25 */
    }
    }
    {
    r_t151 = 16U; /* @42:37 */
    }
    {
    r_t152 = (u8)(r_t150 | r_t151); /* @42:25 */
    }
    {
    if (v_tcp) { /* store tcp.flags */ /* @42:13 */
        u32 _t96 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_tcp + 12)));
        *(u8 *)(h_tcp + 13) = ((u8)(r_t152));
        u32 _t97 = (u32)bpf_ntohs(*(u16 *)(h_tcp + 12));
        if (1) {
            u32 _t98 = bpf_ntohs(*(u16 *)(h_tcp + 16));
            {
                u32 _t99 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t98) + _t96 + _t97);
                *(u16 *)(h_tcp + 16) = bpf_htons((u16)_t99);
            }
        }
    }
    }
    {
    r_t153 = 168364039U; /* @43:26 */
    }
    {
    if (v_ipv4) { /* store ipv4.saddr */ /* @43:13 */
        u32 _t100 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 12))) + (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 14)));
        *(u32 *)(h_ipv4 + 12) = bpf_ntohl((u32)(r_t153));
        u32 _t101 = (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 12)) + (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 14));
        if (1) {
            u32 _t102 = bpf_ntohs(*(u16 *)(h_ipv4 + 10));
            {
                u32 _t103 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t102) + _t100 + _t101);
                *(u16 *)(h_ipv4 + 10) = bpf_htons((u16)_t103);
            }
        }
        if (v_tcp) {
            u32 _t104 = bpf_ntohs(*(u16 *)(h_tcp + 16));
            {
                u32 _t105 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t104) + _t100 + _t101);
                *(u16 *)(h_tcp + 16) = bpf_htons((u16)_t105);
            }
        }
        if (v_udp) {
            u32 _t106 = bpf_ntohs(*(u16 *)(h_udp + 6));
            if (_t106 != 0) {
                u32 _t107 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t106) + _t100 + _t101);
                if (_t107 == 0) _t107 = 0xffff;
                *(u16 *)(h_udp + 6) = bpf_htons((u16)_t107);
            }
        }
    }
    }
    {
    goto L_bb28; /* @40:9 */
    }
L_bb28: ;
    {
    r_t162 = v_vlan; /* @52:9 */
    }
    {
    if (r_t162) goto L_bb29; else goto L_bb31; /* @52:9 */
    }
L_bb29: ;
    {
    r_t163 = 42U; /* @52:34 */
    }
    {
    if (v_vlan) { /* store vlan.vid */ /* @52:23 */
        u64 _t109 = (((u64)bpf_ntohs(*(u16 *)(h_vlan + 0))));
        _t109 = (_t109 & ~(u64)0xfffULL) | (((u64)r_t163 << 0) & 0xfffULL);
        *(u16 *)(h_vlan + 0) = bpf_ntohs((u16)(_t109));
    }
    }
    {
    r_t164 = 5U; /* @52:49 */
    }
    {
    if (v_vlan) { /* store vlan.pcp */ /* @52:38 */
        u64 _t111 = (((u64)(*(u8 *)(h_vlan + 0))));
        _t111 = (_t111 & ~(u64)0xe0ULL) | (((u64)r_t164 << 5) & 0xe0ULL);
        *(u8 *)(h_vlan + 0) = ((u8)(_t111));
    }
    }
    {
    goto L_bb31; /* @52:5 */
    }
L_bb31: ;
    {
    r_t165 = 7U; /* @53:16 */
    }
    {
    r_t166 = (u8)(r_b_3 & r_t165); /* @53:12 */
    }
    {
    r_t167 = 0U; /* @54:9 */
    }
    {
    r_t168 = r_t166 == r_t167; /* @54:9 */
    }
    {
    if (r_t168) goto L_bb32; else goto L_bb33; /* @54:9 */
    }
L_bb33: ;
    {
    r_t169 = 1U; /* @55:9 */
    }
    {
    r_t170 = r_t166 == r_t169; /* @55:9 */
    }
    {
    r_t171 = 2U; /* @55:9 */
    }
    {
    r_t172 = r_t166 == r_t171; /* @55:9 */
    }
    {
    r_t173 = (u8)(r_t170 | r_t172); /* @55:9 */
    }
    {
    if (r_t173) goto L_bb34; else goto L_bb35; /* @55:9 */
    }
L_bb35: ;
    {
    return 2; /* pass */ /* @56:16 */
    }
L_bb34: ;
    {
    return 3; /* tx */ /* @55:20 */
    }
L_bb32: ;
    {
    return 1; /* drop */ /* @54:16 */
    }
}
