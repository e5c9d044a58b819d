#include <uapi/linux/bpf.h>

#define CORA_CSUM_FOLD(s) ({ u64 _s = (s); _s = (_s & 0xffff) + (_s >> 16); \
    _s = (_s & 0xffff) + (_s >> 16); _s = (_s & 0xffff) + (_s >> 16); (u32)_s; })

static __always_inline u64 cora_mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
struct buckets_key { u32 f_key; };
struct buckets_value { u64 f_tokens; u64 f_last_ns; };
BPF_F_TABLE("lru_hash", struct buckets_key, struct buckets_value, buckets, 65536, 0);
typedef u32 stats_index_t;
struct stats_value { u64 f_value; };
BPF_F_TABLE("percpu_array", stats_index_t, struct stats_value, stats, 2, 0);
int cora_tc(struct __sk_buff *ctx) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u8 r_t0 = 0;
    u32 r_t1 = 0;
    u32 r_src_2 = 0;
    u64 r_t3 = 0;
    u64 r_t_4 = 0;
    u64 r_tokens_6 = 0;
    u64 r_stamp_7 = 0;
    struct buckets_value *r_h8 = NULL;
    u8 r_t9 = 0;
    struct buckets_value *r_h10 = NULL;
    u64 r_t11 = 0;
    u64 r_t12 = 0;
    u64 r_b_13 = 0;
    u64 r_b_14 = 0;
    u8 r_t15 = 0;
    u8 r_t16 = 0;
    u64 r_t17 = 0;
    u64 r_elapsed_ns_18 = 0;
    u64 r_t19 = 0;
    u8 r_t20 = 0;
    u64 r_t22 = 0;
    u64 r_t23 = 0;
    u64 r_t24 = 0;
    u64 r_t25 = 0;
    u8 r_t26 = 0;
    u32 r_t28 = 0;
    u64 r_t29 = 0;
    u64 r_t30 = 0;
    u64 r_t31 = 0;
    u64 r_cost_32 = 0;
    u8 r_t33 = 0;
    u8 r_conforming_34 = 0;
    u64 r_t35 = 0;
    u8 r_t36 = 0;
    u32 r_t37 = 0;
    u64 r_t38 = 0;
    struct stats_value *r_h39 = NULL;
    u64 r_t40 = 0;
    u64 r_t41 = 0;
    u32 r_t42 = 0;
    u64 r_t43 = 0;
    struct stats_value *r_h44 = NULL;
    u64 r_t45 = 0;
    u64 r_t46 = 0;
    u8 r_found0 = 0;
    if (data + 138 > data_end && ctx->len > (u32)(data_end - data)) {
        bpf_skb_pull_data(ctx, ctx->len < 138 ? ctx->len : 138);
        data = (void *)(long)ctx->data; data_end = (void *)(long)ctx->data_end;
    }
    void *h_ethernet = data; void *h_vlan = data; void *h_ipv4 = data;
    u8 v_ethernet = 0, v_vlan = 0, v_ipv4 = 0;
    if (data + 14 <= data_end) {
        v_ethernet = 1;
        u16 et = *(u16 *)(data + 12);
        void *l3 = data + 14;
        if (et == bpf_htons(0x8100) || et == bpf_htons(0x88a8)) {
            if (data + 18 > data_end) goto parsed;
            v_vlan = 1; h_vlan = data + 14; et = *(u16 *)(data + 16); l3 = data + 18;
        }
        if (et == bpf_htons(0x0800)) {
            if (l3 + 20 > data_end) goto parsed;
            u32 ihl = *(u8 *)l3 & 0x0f;
            if (ihl < 5 || l3 + ihl * 4 > data_end) goto parsed;
            v_ipv4 = 1; h_ipv4 = l3;
        }
    }
parsed:
    ;
L_bb0: ;
    {
    r_t0 = v_ipv4; /* @39:10 */
    }
    {
    if (r_t0) goto L_bb2; else goto L_bb1; /* @39:10 */
    }
L_bb1: ;
    {
    return 0; /* pass */ /* @39:24 */
    }
L_bb2: ;
    {
    r_t1 = 0; /* @40:15 */
    if (v_ipv4) {
        r_t1 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @40:15 */
    }
    }
    {
    r_src_2 = r_t1; /* @40:5 */
    }
    {
    r_t3 = bpf_ktime_get_ns(); /* @41:13 */
    }
    {
    r_t_4 = r_t3; /* @41:5 */
    }
    {
    r_tokens_6 = 0xda475abf000ULL; /* @43:5 */
    }
    {
    r_stamp_7 = r_t_4; /* @44:5 */
    }
    {
    struct buckets_key _t1; __builtin_memset(&_t1, 0, sizeof(_t1)); /* @45:9 */
    _t1.f_key = r_src_2;
    r_h8 = buckets.lookup(&_t1);
    }
    {
    r_t9 = r_h8 != NULL; /* @45:9 */
    }
    {
    if (r_t9) goto L_bb3; else goto L_bb17; /* @45:9 */
    }
L_bb3: ;
    {
    r_h10 = r_h8; /* @46:17 */
    }
    {
    r_t11 = r_h10 ? r_h10->f_tokens : 0; /* @46:17 */
    }
    {
    r_t12 = r_h10 ? r_h10->f_last_ns : 0; /* @46:17 */
    }
    {
    r_b_13 = r_t11; /* @46:9 */
    }
    {
    r_b_14 = r_t12; /* @46:9 */
    }
    {
    r_tokens_6 = r_b_13; /* @47:9 */
    }
    {
    r_t15 = r_b_14 > r_t_4; /* @48:13 */
    }
    {
    if (r_t15) goto L_bb5; else goto L_bb7; /* @48:13 */
    }
L_bb5: ;
    {
    r_stamp_7 = r_b_14; /* @48:30 */
    }
    {
    goto L_bb7; /* @48:9 */
    }
L_bb7: ;
    {
    r_t16 = r_t_4 > r_b_14; /* @49:13 */
    }
    {
    if (r_t16) goto L_bb8; else goto L_bb17; /* @49:13 */
    }
L_bb8: ;
    {
    r_t17 = (u64)(r_t_4 - r_b_14); /* @50:30 */
    }
    {
    r_elapsed_ns_18 = r_t17; /* @50:13 */
    }
    {
    r_t19 = 0x7270e00ULL; /* @51:30 */
    }
    {
    r_t20 = r_elapsed_ns_18 > r_t19; /* @51:17 */
    }
    {
    if (r_t20) goto L_bb10; else goto L_bb12; /* @51:17 */
    }
L_bb10: ;
    {
    r_elapsed_ns_18 = 0x7270e00ULL; /* @51:41 */
    }
    {
    goto L_bb12; /* @51:13 */
    }
L_bb12: ;
    {
    r_t22 = 0x1e848ULL; /* @52:36 */
    }
    {
    r_t23 = (u64)(r_elapsed_ns_18 * r_t22); /* @52:23 */
    }
    {
    r_t24 = (u64)(r_tokens_6 + r_t23); /* @52:13 */
    }
    {
    r_tokens_6 = r_t24; /* @52:13 */
    }
    {
    r_t25 = 0xda475abf000ULL; /* @53:26 */
    }
    {
    r_t26 = r_tokens_6 > r_t25; /* @53:17 */
    }
    {
    if (r_t26) goto L_bb13; else goto L_bb17; /* @53:17 */
    }
L_bb13: ;
    {
    r_tokens_6 = 0xda475abf000ULL; /* @53:45 */
    }
    {
    goto L_bb17; /* @53:13 */
    }
L_bb17: ;
    {
    r_t28 = ctx->len; /* @57:17 */
    }
    {
    r_t29 = (u64)r_t28; /* @57:17 */
    }
    {
    r_t30 = 0x3b9aca00ULL; /* @57:35 */
    }
    {
    r_t31 = (u64)(r_t29 * r_t30); /* @57:16 */
    }
    {
    r_cost_32 = r_t31; /* @57:5 */
    }
    {
    r_t33 = r_tokens_6 >= r_cost_32; /* @58:22 */
    }
    {
    r_conforming_34 = r_t33; /* @58:5 */
    }
    {
    if (r_conforming_34) goto L_bb18; else goto L_bb20; /* @59:9 */
    }
L_bb18: ;
    {
    r_t35 = (u64)(r_tokens_6 - r_cost_32); /* @59:23 */
    }
    {
    r_tokens_6 = r_t35; /* @59:23 */
    }
    {
    goto L_bb20; /* @59:5 */
    }
L_bb20: ;
    {
    r_found0 = r_h8 != NULL; /* @60:5 */
    }
    {
    if (r_found0) goto L_inplace0; else goto L_update0; /* @60:5 */
    }
L_update0: ;
    {
    struct buckets_key _t2; __builtin_memset(&_t2, 0, sizeof(_t2)); /* @60:5 */
    _t2.f_key = r_src_2;
    struct buckets_value _t3; __builtin_memset(&_t3, 0, sizeof(_t3));
    _t3.f_tokens = r_tokens_6;
    _t3.f_last_ns = r_stamp_7;
    r_t36 = buckets.update(&_t2, &_t3) == 0;
    }
    {
    goto L_joined0; /* @60:5 */
    }
L_inplace0: ;
    {
    if (r_h8) r_h8->f_tokens = r_tokens_6; /* @60:5 */
    }
    {
    if (r_h8) r_h8->f_last_ns = r_stamp_7; /* @60:5 */
    }
    {
    goto L_joined0; /* @60:5 */
    }
L_joined0: ;
    {
    if (r_conforming_34) goto L_bb22; else goto L_bb21; /* @61:10 */
    }
L_bb21: ;
    {
    r_t37 = 1U; /* @62:15 */
    }
    {
    r_t38 = 0x1ULL; /* @62:32 */
    }
    {
    u32 _t4 = r_t37; /* @62:9 */
    r_h39 = stats.lookup(&_t4);
    }
    {
    r_t40 = r_h39 ? r_h39->f_value : 0; /* @62:9 */
    }
    {
    r_t41 = (u64)(r_t40 + r_t38); /* @62:9 */
    }
    {
    if (r_h39) r_h39->f_value = r_t41; /* @62:9 */
    }
    {
    return 2; /* drop */ /* @63:9 */
    }
L_bb22: ;
    {
    r_t42 = 0U; /* @65:11 */
    }
    {
    r_t43 = 0x1ULL; /* @65:27 */
    }
    {
    u32 _t5 = r_t42; /* @65:5 */
    r_h44 = stats.lookup(&_t5);
    }
    {
    r_t45 = r_h44 ? r_h44->f_value : 0; /* @65:5 */
    }
    {
    r_t46 = (u64)(r_t45 + r_t43); /* @65:5 */
    }
    {
    if (r_h44) r_h44->f_value = r_t46; /* @65:5 */
    }
    {
    return 0; /* pass */ /* @66:5 */
    }
}
