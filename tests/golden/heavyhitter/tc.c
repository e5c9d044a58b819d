#include <uapi/linux/bpf.h>

#define CORA_CSUM_FOLD(s) ({ u64 _s = (s); _s = (_s & 0xffff) + (_s >> 16); \
    _s = (_s & 0xffff) + (_s >> 16); _s = (_s & 0xffff) + (_s >> 16); (u32)_s; })

static __always_inline u64 cora_mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
typedef u32 sketch_index_t;
struct sketch_value { u32 f_count; };
BPF_F_TABLE("array", sketch_index_t, struct sketch_value, sketch, 8192, 0);
struct heavy_key { u32 f_key; };
struct heavy_value { u32 f_bytes; u64 f_first_ns; };
BPF_F_TABLE("hash", struct heavy_key, struct heavy_value, heavy, 1024, 0);
int cora_tc(struct __sk_buff *ctx) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u8 r_t0 = 0;
    u32 r_t1 = 0;
    u32 r_src_2 = 0;
    u32 r_t3 = 0;
    u32 r_t4 = 0;
    u32 r_t5 = 0;
    u32 r_t6 = 0;
    u32 r_t7 = 0;
    u32 r_t8 = 0;
    u32 r_t9 = 0;
    u32 r_t10 = 0;
    u32 r_t11 = 0;
    u32 r_t12 = 0;
    u32 r_t13 = 0;
    u32 r_t14 = 0;
    u32 r_t15 = 0;
    u32 r_t16 = 0;
    u32 r_t17 = 0;
    u32 r_t18 = 0;
    struct sketch_value *r_h19 = NULL;
    u32 r_t20 = 0;
    u32 r_t21 = 0;
    struct sketch_value *r_h22 = NULL;
    u32 r_t23 = 0;
    u32 r_t24 = 0;
    struct sketch_value *r_h25 = NULL;
    u32 r_t26 = 0;
    u32 r_t27 = 0;
    struct sketch_value *r_h28 = NULL;
    u32 r_t29 = 0;
    u32 r_t30 = 0;
    u32 r_t31 = 0;
    u32 r_t32 = 0;
    u32 r_t33 = 0;
    u32 r_t34 = 0;
    u32 r_t35 = 0;
    u32 r_t36 = 0;
    u32 r_t37 = 0;
    u32 r_t38 = 0;
    u32 r_t39 = 0;
    u32 r_t40 = 0;
    u32 r_t41 = 0;
    u32 r_t42 = 0;
    u32 r_t43 = 0;
    u32 r_t44 = 0;
    u32 r_t45 = 0;
    struct sketch_value *r_h46 = NULL;
    u32 r_t47 = 0;
    struct sketch_value *r_h48 = NULL;
    u32 r_t49 = 0;
    u8 r_t50 = 0;
    u32 r_t51 = 0;
    struct sketch_value *r_h52 = NULL;
    u32 r_t53 = 0;
    u8 r_t54 = 0;
    u32 r_t55 = 0;
    struct sketch_value *r_h56 = NULL;
    u32 r_t57 = 0;
    u8 r_t58 = 0;
    u32 r_t59 = 0;
    u32 r_estimate_60 = 0;
    u32 r_t61 = 0;
    u8 r_t62 = 0;
    struct heavy_value *r_h63 = NULL;
    u8 r_t64 = 0;
    struct heavy_value *r_h65 = NULL;
    u64 r_t69 = 0;
    u8 r_t70 = 0;
    u8 r_t77 = 0;
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
    r_t0 = v_ipv4; /* @43:10 */
    }
    {
    if (r_t0) goto L_bb2; else goto L_bb1; /* @43:10 */
    }
L_bb1: ;
    {
    return 0; /* pass */ /* @43:24 */
    }
L_bb2: ;
    {
    r_t1 = 0; /* @44:15 */
    if (v_ipv4) {
        r_t1 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @44:15 */
    }
    }
    {
    r_src_2 = r_t1; /* @44:5 */
    }
    {
    r_t3 = ctx->len; /* @45:21 */
    }
    {
    r_t4 = 2048U; /* @45:5 */
    }
    {
    u64 _t1 = 0x9e3779b97f4a7c16ULL; /* @45:5 */
    _t1 = cora_mix64(_t1 ^ (u64)r_src_2);
    r_t5 = (u32)(_t1 ^ (_t1 >> 32)); /* @45:5 */
    }
    {
    r_t6 = (r_t4 ? (u32)(r_t5 % r_t4) : r_t5); /* @45:5 */
    }
    {
    u64 _t2 = 0x9e3779b97f4a7c17ULL; /* @45:5 */
    _t2 = cora_mix64(_t2 ^ (u64)r_src_2);
    r_t7 = (u32)(_t2 ^ (_t2 >> 32)); /* @45:5 */
    }
    {
    r_t8 = (r_t4 ? (u32)(r_t7 % r_t4) : r_t7); /* @45:5 */
    }
    {
    r_t9 = 2048U; /* @45:5 */
    }
    {
    r_t10 = (u32)(r_t8 + r_t9); /* @45:5 */
    }
    {
    u64 _t3 = 0x9e3779b97f4a7c18ULL; /* @45:5 */
    _t3 = cora_mix64(_t3 ^ (u64)r_src_2);
    r_t11 = (u32)(_t3 ^ (_t3 >> 32)); /* @45:5 */
    }
    {
    r_t12 = (r_t4 ? (u32)(r_t11 % r_t4) : r_t11); /* @45:5 */
    }
    {
    r_t13 = 4096U; /* @45:5 */
    }
    {
    r_t14 = (u32)(r_t12 + r_t13); /* @45:5 */
    }
    {
    u64 _t4 = 0x9e3779b97f4a7c19ULL; /* @45:5 */
    _t4 = cora_mix64(_t4 ^ (u64)r_src_2);
    r_t15 = (u32)(_t4 ^ (_t4 >> 32)); /* @45:5 */
    }
    {
    r_t16 = (r_t4 ? (u32)(r_t15 % r_t4) : r_t15); /* @45:5 */
    }
    {
    r_t17 = 6144U; /* @45:5 */
    }
    {
    r_t18 = (u32)(r_t16 + r_t17); /* @45:5 */
    }
    {
    u32 _t5 = r_t6; /* @45:5 */
    r_h19 = sketch.lookup(&_t5);
    }
    {
    r_t20 = r_h19 ? r_h19->f_count : 0; /* @45:5 */
    }
    {
    r_t21 = (u32)(r_t20 + r_t3); /* @45:5 */
    }
    {
    if (r_h19) r_h19->f_count = r_t21; /* @45:5 */
    }
    {
    u32 _t6 = r_t10; /* @45:5 */
    r_h22 = sketch.lookup(&_t6);
    }
    {
    r_t23 = r_h22 ? r_h22->f_count : 0; /* @45:5 */
    }
    {
    r_t24 = (u32)(r_t23 + r_t3); /* @45:5 */
    }
    {
    if (r_h22) r_h22->f_count = r_t24; /* @45:5 */
    }
    {
    u32 _t7 = r_t14; /* @45:5 */
    r_h25 = sketch.lookup(&_t7);
    }
    {
    r_t26 = r_h25 ? r_h25->f_count : 0; /* @45:5 */
    }
    {
    r_t27 = (u32)(r_t26 + r_t3); /* @45:5 */
    }
    {
    if (r_h25) r_h25->f_count = r_t27; /* @45:5 */
    }
    {
    u32 _t8 = r_t18; /* @45:5 */
    r_h28 = sketch.lookup(&_t8);
    }
    {
    r_t29 = r_h28 ? r_h28->f_count : 0; /* @45:5 */
    }
    {
    r_t30 = (u32)(r_t29 + r_t3); /* @45:5 */
    }
    {
    if (r_h28) r_h28->f_count = r_t30; /* @45:5 */
    }
    {
    r_t31 = 2048U; /* @46:20 */
    }
    {
    u64 _t9 = 0x9e3779b97f4a7c16ULL; /* @46:20 */
    _t9 = cora_mix64(_t9 ^ (u64)r_src_2);
    r_t32 = (u32)(_t9 ^ (_t9 >> 32)); /* @46:20 */
    }
    {
    r_t33 = (r_t31 ? (u32)(r_t32 % r_t31) : r_t32); /* @46:20 */
    }
    {
    u64 _t10 = 0x9e3779b97f4a7c17ULL; /* @46:20 */
    _t10 = cora_mix64(_t10 ^ (u64)r_src_2);
    r_t34 = (u32)(_t10 ^ (_t10 >> 32)); /* @46:20 */
    }
    {
    r_t35 = (r_t31 ? (u32)(r_t34 % r_t31) : r_t34); /* @46:20 */
    }
    {
    r_t36 = 2048U; /* @46:20 */
    }
    {
    r_t37 = (u32)(r_t35 + r_t36); /* @46:20 */
    }
    {
    u64 _t11 = 0x9e3779b97f4a7c18ULL; /* @46:20 */
    _t11 = cora_mix64(_t11 ^ (u64)r_src_2);
    r_t38 = (u32)(_t11 ^ (_t11 >> 32)); /* @46:20 */
    }
    {
    r_t39 = (r_t31 ? (u32)(r_t38 % r_t31) : r_t38); /* @46:20 */
    }
    {
    r_t40 = 4096U; /* @46:20 */
    }
    {
    r_t41 = (u32)(r_t39 + r_t40); /* @46:20 */
    }
    {
    u64 _t12 = 0x9e3779b97f4a7c19ULL; /* @46:20 */
    _t12 = cora_mix64(_t12 ^ (u64)r_src_2);
    r_t42 = (u32)(_t12 ^ (_t12 >> 32)); /* @46:20 */
    }
    {
    r_t43 = (r_t31 ? (u32)(r_t42 % r_t31) : r_t42); /* @46:20 */
    }
    {
    r_t44 = 6144U; /* @46:20 */
    }
    {
    r_t45 = (u32)(r_t43 + r_t44); /* @46:20 */
    }
    {
    u32 _t13 = r_t33; /* @46:20 */
    r_h46 = sketch.lookup(&_t13);
    }
    {
    r_t47 = r_h46 ? r_h46->f_count : 0; /* @46:20 */
    }
    {
    u32 _t14 = r_t37; /* @46:20 */
    r_h48 = sketch.lookup(&_t14);
    }
    {
    r_t49 = r_h48 ? r_h48->f_count : 0; /* @46:20 */
    }
    {
    r_t50 = r_t49 < r_t47; /* @46:20 */
    }
    {
    r_t51 = r_t50 ? r_t49 : r_t47; /* @46:20 */
    }
    {
    u32 _t15 = r_t41; /* @46:20 */
    r_h52 = sketch.lookup(&_t15);
    }
    {
    r_t53 = r_h52 ? r_h52->f_count : 0; /* @46:20 */
    }
    {
    r_t54 = r_t53 < r_t51; /* @46:20 */
    }
    {
    r_t55 = r_t54 ? r_t53 : r_t51; /* @46:20 */
    }
    {
    u32 _t16 = r_t45; /* @46:20 */
    r_h56 = sketch.lookup(&_t16);
    }
    {
    r_t57 = r_h56 ? r_h56->f_count : 0; /* @46:20 */
    }
    {
    r_t58 = r_t57 < r_t55; /* @46:20 */
    }
    {
    r_t59 = r_t58 ? r_t57 : r_t55; /* @46:20 */
    }
    {
    r_estimate_60 = r_t59; /* @46:5 */
    }
    {
    r_t61 = 1000000U; /* @47:20 */
    }
    {
    r_t62 = r_estimate_60 < r_t61; /* @47:9 */
    }
    {
    if (r_t62) goto L_bb3; else goto L_bb4; /* @47:9 */
    }
L_bb4: ;
    {
    struct heavy_key _t17; __builtin_memset(&_t17, 0, sizeof(_t17)); /* @49:9 */
    _t17.f_key = r_src_2;
    r_h63 = heavy.lookup(&_t17);
    }
    {
    r_t64 = r_h63 != NULL; /* @49:9 */
    }
    {
    if (r_t64) goto L_bb5; else goto L_bb6; /* @49:9 */
    }
L_bb6: ;
    {
    r_t69 = bpf_ktime_get_ns(); /* @52:58 */
    }
    {
    struct heavy_key _t18; __builtin_memset(&_t18, 0, sizeof(_t18)); /* @52:9 */
    _t18.f_key = r_src_2;
    struct heavy_value _t19; __builtin_memset(&_t19, 0, sizeof(_t19));
    _t19.f_bytes = r_estimate_60;
    _t19.f_first_ns = r_t69;
    r_t70 = heavy.update(&_t18, &_t19) == 0;
    }
    {
    goto L_bb10; /* @49:5 */
    }
L_bb5: ;
    {
    r_h65 = r_h63; /* @50:9 */
    }
    {
    if (r_h65) r_h65->f_bytes = r_estimate_60; /* @50:9 */
    }
    {
    goto L_bb10; /* @49:5 */
    }
L_bb10: ;
    {
    r_t77 = 1U; /* @55:46 */
    }
    {
    if (v_ipv4) { /* store ipv4.dscp */ /* @55:34 */
        u32 _t20 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 0)));
        u64 _t21 = (((u64)(*(u8 *)(h_ipv4 + 1))));
        _t21 = (_t21 & ~(u64)0xfcULL) | (((u64)r_t77 << 2) & 0xfcULL);
        *(u8 *)(h_ipv4 + 1) = ((u8)(_t21));
        u32 _t22 = (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 0));
        if (1) {
            u32 _t23 = bpf_ntohs(*(u16 *)(h_ipv4 + 10));
            {
                u32 _t24 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t23) + _t20 + _t22);
                *(u16 *)(h_ipv4 + 10) = bpf_htons((u16)_t24);
            }
        }
    }
    }
    {
    return 0; /* pass */ /* @56:5 */
    }
L_bb3: ;
    {
    return 0; /* pass */ /* @47:39 */
    }
}
