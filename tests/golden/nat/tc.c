#include <uapi/linux/bpf.h>

#define CORA_CSUM_FOLD(s) ({ u64 _s = (s); _s = (_s & 0xffff) + (_s >> 16); \
    _s = (_s & 0xffff) + (_s >> 16); _s = (_s & 0xffff) + (_s >> 16); (u32)_s; })

static __always_inline u64 cora_mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
struct nat_out_key { u32 f_saddr; u32 f_daddr; u16 f_sport; u16 f_dport; u8 f_proto; };
struct nat_out_value { u16 f_value; };
BPF_F_TABLE("lru_hash", struct nat_out_key, struct nat_out_value, nat_out, 65536, 0);
struct nat_in_key { u8 f_f0; u16 f_f1; };
struct nat_in_value { u32 f_inside_addr; u16 f_inside_port; u32 f_remote_addr; u16 f_remote_port; u64 f_last_ns; };
BPF_F_TABLE("hash", struct nat_in_key, struct nat_in_value, nat_in, 16384, 0);
typedef u32 stats_index_t;
struct stats_value { u64 f_value; };
BPF_F_TABLE("percpu_array", stats_index_t, struct stats_value, stats, 8, 0);
int cora_tc(struct __sk_buff *ctx) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u8 r_t0 = 0;
    u64 r_t1 = 0;
    u64 r_t_2 = 0;
    u32 r_t3 = 0;
    u32 r_t4 = 0;
    u32 r_t5 = 0;
    u32 r_t6 = 0;
    u8 r_t7 = 0;
    u32 r_t8 = 0;
    u32 r_t9 = 0;
    u32 r_t10 = 0;
    u32 r_t11 = 0;
    u8 r_t12 = 0;
    u8 r_t13 = 0;
    u8 r_t14 = 0;
    u8 r_t15 = 0;
    u32 r_index_17 = 0;
    u64 r_t18 = 0;
    struct stats_value *r_h19 = NULL;
    u64 r_t20 = 0;
    u64 r_t21 = 0;
    u32 r_flow_saddr22 = 0;
    u32 r_flow_daddr23 = 0;
    u16 r_flow_sport24 = 0;
    u16 r_flow_dport25 = 0;
    u8 r_flow_proto26 = 0;
    u8 r_t27 = 0;
    u32 r_f_28 = 0;
    u32 r_f_29 = 0;
    u16 r_f_30 = 0;
    u16 r_f_31 = 0;
    u8 r_f_32 = 0;
    u16 r_port_34 = 0;
    struct nat_out_value *r_h35 = NULL;
    u8 r_t36 = 0;
    struct nat_out_value *r_h37 = NULL;
    u16 r_t38 = 0;
    u16 r_p_39 = 0;
    struct nat_in_value *r_h40 = NULL;
    u8 r_t41 = 0;
    struct nat_in_value *r_h42 = NULL;
    u32 r_t43 = 0;
    u16 r_t44 = 0;
    u32 r_t45 = 0;
    u16 r_t46 = 0;
    u32 r_b_48 = 0;
    u16 r_b_49 = 0;
    u32 r_b_50 = 0;
    u16 r_b_51 = 0;
    u32 r_f_53 = 0;
    u32 r_f_54 = 0;
    u16 r_f_55 = 0;
    u16 r_f_56 = 0;
    u8 r_ret58 = 0;
    u8 r_t59 = 0;
    u8 r_t60 = 0;
    u8 r_t61 = 0;
    u8 r_t62 = 0;
    u8 r_t63 = 0;
    u8 r_t64 = 0;
    u8 r_t65 = 0;
    u16 r_t66 = 0;
    u8 r_t67 = 0;
    u32 r_t68 = 0;
    u32 r_h_69 = 0;
    u32 r_t70 = 0;
    u16 r_t71 = 0;
    u8 r_t72 = 0;
    u32 r_t73 = 0;
    u32 r_t74 = 0;
    u32 r_t75 = 0;
    u32 r_t76 = 0;
    u32 r_t77 = 0;
    u16 r_t78 = 0;
    u16 r_candidate_79 = 0;
    u8 r_key_80 = 0;
    u16 r_key_81 = 0;
    struct nat_in_value *r_h82 = NULL;
    u8 r_t83 = 0;
    struct nat_in_value *r_h84 = NULL;
    u64 r_t89 = 0;
    u64 r_b_94 = 0;
    u8 r_proto_95 = 0;
    u64 r_t_96 = 0;
    u8 r_ret97 = 0;
    u64 r_limit_99 = 0;
    u8 r_t100 = 0;
    u8 r_t101 = 0;
    u8 r_t103 = 0;
    u64 r_t104 = 0;
    u8 r_t105 = 0;
    u8 r_t106 = 0;
    u32 r_t107 = 0;
    u16 r_t108 = 0;
    u8 r_t109 = 0;
    u32 r_t110 = 0;
    u32 r_t111 = 0;
    u32 r_t112 = 0;
    u32 r_t113 = 0;
    u32 r_t114 = 0;
    u16 r_t115 = 0;
    u16 r_candidate_116 = 0;
    u8 r_key_117 = 0;
    u16 r_key_118 = 0;
    struct nat_in_value *r_h119 = NULL;
    u8 r_t120 = 0;
    struct nat_in_value *r_h121 = NULL;
    u64 r_t126 = 0;
    u64 r_b_131 = 0;
    u8 r_proto_132 = 0;
    u64 r_t_133 = 0;
    u8 r_ret134 = 0;
    u64 r_limit_136 = 0;
    u8 r_t137 = 0;
    u8 r_t138 = 0;
    u8 r_t140 = 0;
    u64 r_t141 = 0;
    u8 r_t142 = 0;
    u8 r_t143 = 0;
    u32 r_t144 = 0;
    u16 r_t145 = 0;
    u8 r_t146 = 0;
    u32 r_t147 = 0;
    u32 r_t148 = 0;
    u32 r_t149 = 0;
    u32 r_t150 = 0;
    u32 r_t151 = 0;
    u16 r_t152 = 0;
    u16 r_candidate_153 = 0;
    u8 r_key_154 = 0;
    u16 r_key_155 = 0;
    struct nat_in_value *r_h156 = NULL;
    u8 r_t157 = 0;
    struct nat_in_value *r_h158 = NULL;
    u64 r_t163 = 0;
    u64 r_b_168 = 0;
    u8 r_proto_169 = 0;
    u64 r_t_170 = 0;
    u8 r_ret171 = 0;
    u64 r_limit_173 = 0;
    u8 r_t174 = 0;
    u8 r_t175 = 0;
    u8 r_t177 = 0;
    u64 r_t178 = 0;
    u8 r_t179 = 0;
    u8 r_t180 = 0;
    u32 r_t181 = 0;
    u16 r_t182 = 0;
    u8 r_t183 = 0;
    u32 r_t184 = 0;
    u32 r_t185 = 0;
    u32 r_t186 = 0;
    u32 r_t187 = 0;
    u32 r_t188 = 0;
    u16 r_t189 = 0;
    u16 r_candidate_190 = 0;
    u8 r_key_191 = 0;
    u16 r_key_192 = 0;
    struct nat_in_value *r_h193 = NULL;
    u8 r_t194 = 0;
    struct nat_in_value *r_h195 = NULL;
    u64 r_t200 = 0;
    u64 r_b_205 = 0;
    u8 r_proto_206 = 0;
    u64 r_t_207 = 0;
    u8 r_ret208 = 0;
    u64 r_limit_210 = 0;
    u8 r_t211 = 0;
    u8 r_t212 = 0;
    u8 r_t214 = 0;
    u64 r_t215 = 0;
    u8 r_t216 = 0;
    u8 r_t217 = 0;
    u32 r_t218 = 0;
    u16 r_t219 = 0;
    u8 r_t220 = 0;
    u32 r_t221 = 0;
    u32 r_t222 = 0;
    u32 r_t223 = 0;
    u32 r_t224 = 0;
    u32 r_t225 = 0;
    u16 r_t226 = 0;
    u16 r_candidate_227 = 0;
    u8 r_key_228 = 0;
    u16 r_key_229 = 0;
    struct nat_in_value *r_h230 = NULL;
    u8 r_t231 = 0;
    struct nat_in_value *r_h232 = NULL;
    u64 r_t237 = 0;
    u64 r_b_242 = 0;
    u8 r_proto_243 = 0;
    u64 r_t_244 = 0;
    u8 r_ret245 = 0;
    u64 r_limit_247 = 0;
    u8 r_t248 = 0;
    u8 r_t249 = 0;
    u8 r_t251 = 0;
    u64 r_t252 = 0;
    u8 r_t253 = 0;
    u8 r_t254 = 0;
    u32 r_t255 = 0;
    u16 r_t256 = 0;
    u8 r_t257 = 0;
    u32 r_t258 = 0;
    u32 r_t259 = 0;
    u32 r_t260 = 0;
    u32 r_t261 = 0;
    u32 r_t262 = 0;
    u16 r_t263 = 0;
    u16 r_candidate_264 = 0;
    u8 r_key_265 = 0;
    u16 r_key_266 = 0;
    struct nat_in_value *r_h267 = NULL;
    u8 r_t268 = 0;
    struct nat_in_value *r_h269 = NULL;
    u64 r_t274 = 0;
    u64 r_b_279 = 0;
    u8 r_proto_280 = 0;
    u64 r_t_281 = 0;
    u8 r_ret282 = 0;
    u64 r_limit_284 = 0;
    u8 r_t285 = 0;
    u8 r_t286 = 0;
    u8 r_t288 = 0;
    u64 r_t289 = 0;
    u8 r_t290 = 0;
    u8 r_t291 = 0;
    u32 r_t292 = 0;
    u16 r_t293 = 0;
    u8 r_t294 = 0;
    u32 r_t295 = 0;
    u32 r_t296 = 0;
    u32 r_t297 = 0;
    u32 r_t298 = 0;
    u32 r_t299 = 0;
    u16 r_t300 = 0;
    u16 r_candidate_301 = 0;
    u8 r_key_302 = 0;
    u16 r_key_303 = 0;
    struct nat_in_value *r_h304 = NULL;
    u8 r_t305 = 0;
    struct nat_in_value *r_h306 = NULL;
    u64 r_t311 = 0;
    u64 r_b_316 = 0;
    u8 r_proto_317 = 0;
    u64 r_t_318 = 0;
    u8 r_ret319 = 0;
    u64 r_limit_321 = 0;
    u8 r_t322 = 0;
    u8 r_t323 = 0;
    u8 r_t325 = 0;
    u64 r_t326 = 0;
    u8 r_t327 = 0;
    u8 r_t328 = 0;
    u32 r_t329 = 0;
    u16 r_t330 = 0;
    u8 r_t331 = 0;
    u32 r_t332 = 0;
    u32 r_t333 = 0;
    u32 r_t334 = 0;
    u32 r_t335 = 0;
    u32 r_t336 = 0;
    u16 r_t337 = 0;
    u16 r_candidate_338 = 0;
    u8 r_key_339 = 0;
    u16 r_key_340 = 0;
    struct nat_in_value *r_h341 = NULL;
    u8 r_t342 = 0;
    struct nat_in_value *r_h343 = NULL;
    u64 r_t348 = 0;
    u64 r_b_353 = 0;
    u8 r_proto_354 = 0;
    u64 r_t_355 = 0;
    u8 r_ret356 = 0;
    u64 r_limit_358 = 0;
    u8 r_t359 = 0;
    u8 r_t360 = 0;
    u8 r_t362 = 0;
    u64 r_t363 = 0;
    u8 r_t364 = 0;
    u8 r_t365 = 0;
    u16 r_t366 = 0;
    u8 r_t367 = 0;
    u32 r_index_369 = 0;
    u64 r_t370 = 0;
    struct stats_value *r_h371 = NULL;
    u64 r_t372 = 0;
    u64 r_t373 = 0;
    u8 r_t374 = 0;
    u32 r_index_376 = 0;
    u64 r_t377 = 0;
    struct stats_value *r_h378 = NULL;
    u64 r_t379 = 0;
    u64 r_t380 = 0;
    u8 r_t381 = 0;
    u32 r_t382 = 0;
    u8 r_t383 = 0;
    u32 r_index_385 = 0;
    u64 r_t386 = 0;
    struct stats_value *r_h387 = NULL;
    u64 r_t388 = 0;
    u64 r_t389 = 0;
    u32 r_t390 = 0;
    u32 r_t391 = 0;
    u8 r_t392 = 0;
    u8 r_t393 = 0;
    u8 r_t394 = 0;
    u8 r_t395 = 0;
    u8 r_t396 = 0;
    u32 r_flow_saddr397 = 0;
    u16 r_flow_sport399 = 0;
    u16 r_flow_dport400 = 0;
    u8 r_flow_proto401 = 0;
    u8 r_t402 = 0;
    u32 r_f_403 = 0;
    u16 r_f_405 = 0;
    u16 r_f_406 = 0;
    u8 r_f_407 = 0;
    u32 r_t408 = 0;
    u32 r_t409 = 0;
    u8 r_t410 = 0;
    u32 r_t413 = 0;
    u32 r_t414 = 0;
    u8 r_t415 = 0;
    u8 r_t416 = 0;
    u8 r_key_417 = 0;
    u16 r_key_418 = 0;
    struct nat_in_value *r_h419 = NULL;
    u8 r_t420 = 0;
    u32 r_index_422 = 0;
    u64 r_t423 = 0;
    struct stats_value *r_h424 = NULL;
    u64 r_t425 = 0;
    u64 r_t426 = 0;
    struct nat_in_value *r_h427 = NULL;
    u32 r_t428 = 0;
    u16 r_t429 = 0;
    u32 r_t430 = 0;
    u16 r_t431 = 0;
    u64 r_t432 = 0;
    u32 r_b_433 = 0;
    u16 r_b_434 = 0;
    u32 r_b_435 = 0;
    u16 r_b_436 = 0;
    u64 r_b_437 = 0;
    u8 r_t438 = 0;
    u8 r_t439 = 0;
    u8 r_t440 = 0;
    u64 r_b_445 = 0;
    u8 r_proto_446 = 0;
    u64 r_t_447 = 0;
    u8 r_ret448 = 0;
    u64 r_limit_450 = 0;
    u8 r_t451 = 0;
    u8 r_t452 = 0;
    u8 r_t454 = 0;
    u64 r_t455 = 0;
    u8 r_t456 = 0;
    u8 r_t457 = 0;
    u32 r_index_459 = 0;
    u64 r_t460 = 0;
    struct stats_value *r_h461 = NULL;
    u64 r_t462 = 0;
    u64 r_t463 = 0;
    struct nat_in_value *r_h464 = NULL;
    u8 r_t471 = 0;
    u32 r_index_473 = 0;
    u64 r_t474 = 0;
    struct stats_value *r_h475 = NULL;
    u64 r_t476 = 0;
    u64 r_t477 = 0;
    u8 r_found0 = 0;
    if (data + 138 > data_end && ctx->len > (u32)(data_end - data)) {
        bpf_skb_pull_data(ctx, ctx->len < 138 ? ctx->len : 138);
        data = (void *)(long)ctx->data; data_end = (void *)(long)ctx->data_end;
    }
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
    r_t0 = v_ipv4; /* @82:10 */
    }
    {
    if (r_t0) goto L_bb2; else goto L_bb1; /* @82:10 */
    }
L_bb1: ;
    {
    return 0; /* pass */ /* @82:24 */
    }
L_bb2: ;
    {
    r_t1 = bpf_ktime_get_ns(); /* @83:13 */
    }
    {
    r_t_2 = r_t1; /* @83:5 */
    }
    {
    r_t3 = 0; /* @86:9 */
    if (v_ipv4) {
        r_t3 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @86:9 */
    }
    }
    {
    r_t4 = 4294967040U; /* @86:9 */
    }
    {
    r_t5 = (u32)(r_t3 & r_t4); /* @86:9 */
    }
    {
    r_t6 = 168493312U; /* @86:9 */
    }
    {
    r_t7 = r_t5 == r_t6; /* @86:9 */
    }
    {
    if (r_t7) goto L_bb3; else goto L_bb4; /* @86:9 */
    }
L_bb4: ;
    {
    r_t390 = 0; /* @124:9 */
    if (v_ipv4) {
        r_t390 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 16)))); /* @124:9 */
    }
    }
    {
    r_t391 = 168493057U; /* @124:23 */
    }
    {
    r_t392 = r_t390 == r_t391; /* @124:9 */
    }
    {
    r_t393 = v_tcp; /* @124:39 */
    }
    {
    r_t394 = v_udp; /* @124:52 */
    }
    {
    r_t395 = (u8)(r_t393 | r_t394); /* @124:39 */
    }
    {
    r_t396 = (u8)(r_t392 & r_t395); /* @124:9 */
    }
    {
    if (r_t396) goto L_bb122; else goto L_bb123; /* @124:9 */
    }
L_bb123: ;
    {
    return 0; /* pass */ /* @143:5 */
    }
L_bb122: ;
    {
    r_t402 = v_tcp; /* @125:17 */
    }
    {
    r_flow_saddr397 = 0; /* @125:17 */
    if (v_ipv4) {
        r_flow_saddr397 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @125:17 */
    }
    }
    {
    r_flow_proto401 = 0; /* @125:17 */
    if (v_ipv4) {
        r_flow_proto401 = (u8)(((u64)(*(u8 *)(h_ipv4 + 9)))); /* @125:17 */
    }
    }
    {
    if (r_t402) goto L_bb124; else goto L_bb125; /* @125:17 */
    }
L_bb125: ;
    {
    r_flow_sport399 = 0; /* @125:17 */
    if (v_udp) {
        r_flow_sport399 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_udp + 0)))); /* @125:17 */
    }
    }
    {
    r_flow_dport400 = 0; /* @125:17 */
    if (v_udp) {
        r_flow_dport400 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_udp + 2)))); /* @125:17 */
    }
    }
    {
    goto L_bb126; /* @125:17 */
    }
L_bb124: ;
    {
    r_flow_sport399 = 0; /* @125:17 */
    if (v_tcp) {
        r_flow_sport399 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_tcp + 0)))); /* @125:17 */
    }
    }
    {
    r_flow_dport400 = 0; /* @125:17 */
    if (v_tcp) {
        r_flow_dport400 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_tcp + 2)))); /* @125:17 */
    }
    }
    {
    goto L_bb126; /* @125:17 */
    }
L_bb126: ;
    {
    r_f_403 = r_flow_saddr397; /* @125:9 */
    }
    {
    r_f_405 = r_flow_sport399; /* @125:9 */
    }
    {
    r_f_406 = r_flow_dport400; /* @125:9 */
    }
    {
    r_f_407 = r_flow_proto401; /* @125:9 */
    }
    {
    r_t408 = 20000U; /* @126:23 */
    }
    {
    r_t409 = (u32)r_f_406; /* @126:13 */
    }
    {
    r_t410 = r_t409 < r_t408; /* @126:13 */
    }
    {
    r_t413 = 28192U; /* @126:46 */
    }
    {
    r_t414 = (u32)r_f_406; /* @126:35 */
    }
    {
    r_t415 = r_t414 >= r_t413; /* @126:35 */
    }
    {
    r_t416 = (u8)(r_t410 | r_t415); /* @126:13 */
    }
    {
    if (r_t416) goto L_bb127; else goto L_bb128; /* @126:13 */
    }
L_bb128: ;
    {
    r_key_417 = r_f_407; /* @127:9 */
    }
    {
    r_key_418 = r_f_406; /* @127:9 */
    }
    {
    struct nat_in_key _t1; __builtin_memset(&_t1, 0, sizeof(_t1)); /* @128:15 */
    _t1.f_f0 = r_key_417;
    _t1.f_f1 = r_key_418;
    r_h419 = nat_in.lookup(&_t1);
    }
    {
    r_t420 = r_h419 != NULL; /* @128:15 */
    }
    {
    if (r_t420) goto L_bb130; else goto L_bb129; /* @128:15 */
    }
L_bb129: ;
    {
    r_index_422 = 4U; /* @129:13 */
    }
    {
    r_t423 = 0x1ULL; /* @66:21 */
    }
    {
    u32 _t2 = r_index_422; /* @66:5 */
    r_h424 = stats.lookup(&_t2);
    }
    {
    r_t425 = r_h424 ? r_h424->f_value : 0; /* @66:5 */
    }
    {
    r_t426 = (u64)(r_t425 + r_t423); /* @66:5 */
    }
    {
    if (r_h424) r_h424->f_value = r_t426; /* @66:5 */
    }
    {
    return 2; /* drop */ /* @130:13 */
    }
L_bb130: ;
    {
    r_h427 = r_h419; /* @132:17 */
    }
    {
    r_t428 = r_h427 ? r_h427->f_inside_addr : 0; /* @132:17 */
    }
    {
    r_t429 = r_h427 ? r_h427->f_inside_port : 0; /* @132:17 */
    }
    {
    r_t430 = r_h427 ? r_h427->f_remote_addr : 0; /* @132:17 */
    }
    {
    r_t431 = r_h427 ? r_h427->f_remote_port : 0; /* @132:17 */
    }
    {
    r_t432 = r_h427 ? r_h427->f_last_ns : 0; /* @132:17 */
    }
    {
    r_b_433 = r_t428; /* @132:9 */
    }
    {
    r_b_434 = r_t429; /* @132:9 */
    }
    {
    r_b_435 = r_t430; /* @132:9 */
    }
    {
    r_b_436 = r_t431; /* @132:9 */
    }
    {
    r_b_437 = r_t432; /* @132:9 */
    }
    {
    r_t438 = r_b_435 != r_f_403; /* @133:13 */
    }
    {
    r_t439 = r_b_436 != r_f_405; /* @133:41 */
    }
    {
    r_t440 = (u8)(r_t438 | r_t439); /* @133:13 */
    }
    {
    if (r_t440) goto L_bb132; else goto L_bb134; /* @133:13 */
    }
L_bb134: ;
    {
    r_b_445 = r_b_437; /* @133:69 */
    }
    {
    r_proto_446 = r_f_407; /* @133:69 */
    }
    {
    r_t_447 = r_t_2; /* @133:69 */
    }
    {
    r_limit_450 = 0x6fc23ac00ULL; /* @70:5 */
    }
    {
    r_t451 = 6U; /* @71:18 */
    }
    {
    r_t452 = r_proto_446 == r_t451; /* @71:9 */
    }
    {
    if (r_t452) goto L_bb136; else goto L_bb138; /* @71:9 */
    }
L_bb136: ;
    {
    r_limit_450 = 0x45d964b800ULL; /* @71:31 */
    }
    {
    goto L_bb138; /* @71:5 */
    }
L_bb138: ;
    {
    r_t454 = r_t_447 > r_b_445; /* @72:12 */
    }
    {
    r_t455 = (u64)(r_t_447 - r_b_445); /* @72:29 */
    }
    {
    r_t456 = r_t455 > r_limit_450; /* @72:29 */
    }
    {
    r_t457 = (u8)(r_t454 & r_t456); /* @72:12 */
    }
    {
    r_ret448 = r_t457; /* @72:5 */
    }
    {
    if (r_ret448) goto L_bb132; else goto L_bb133; /* @133:69 */
    }
L_bb133: ;
    {
    r_h464 = r_h419; /* @137:9 */
    }
    {
    if (r_h464) r_h464->f_last_ns = r_t_2; /* @137:9 */
    }
    {
    if (v_ipv4) { /* store ipv4.daddr */ /* @138:9 */
        u32 _t3 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 16))) + (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 18)));
        *(u32 *)(h_ipv4 + 16) = bpf_ntohl((u32)(r_b_433));
        u32 _t4 = (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 16)) + (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 18));
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
    r_t471 = v_tcp; /* @139:13 */
    }
    {
    if (r_t471) goto L_bb145; else goto L_bb146; /* @139:13 */
    }
L_bb146: ;
    {
    if (v_udp) { /* store udp.dport */ /* @139:62 */
        u32 _t11 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_udp + 2)));
        *(u16 *)(h_udp + 2) = bpf_ntohs((u16)(r_b_434));
        u32 _t12 = (u32)bpf_ntohs(*(u16 *)(h_udp + 2));
        if (1) {
            u32 _t13 = bpf_ntohs(*(u16 *)(h_udp + 6));
            if (_t13 != 0) {
                u32 _t14 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t13) + _t11 + _t12);
                if (_t14 == 0) _t14 = 0xffff;
                *(u16 *)(h_udp + 6) = bpf_htons((u16)_t14);
            }
        }
    }
    }
    {
    goto L_bb147; /* @139:9 */
    }
L_bb145: ;
    {
    if (v_tcp) { /* store tcp.dport */ /* @139:26 */
        u32 _t15 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_tcp + 2)));
        *(u16 *)(h_tcp + 2) = bpf_ntohs((u16)(r_b_434));
        u32 _t16 = (u32)bpf_ntohs(*(u16 *)(h_tcp + 2));
        if (1) {
            u32 _t17 = bpf_ntohs(*(u16 *)(h_tcp + 16));
            {
                u32 _t18 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t17) + _t15 + _t16);
                *(u16 *)(h_tcp + 16) = bpf_htons((u16)_t18);
            }
        }
    }
    }
    {
    goto L_bb147; /* @139:9 */
    }
L_bb147: ;
    {
    r_index_473 = 1U; /* @140:9 */
    }
    {
    r_t474 = 0x1ULL; /* @66:21 */
    }
    {
    u32 _t19 = r_index_473; /* @66:5 */
    r_h475 = stats.lookup(&_t19);
    }
    {
    r_t476 = r_h475 ? r_h475->f_value : 0; /* @66:5 */
    }
    {
    r_t477 = (u64)(r_t476 + r_t474); /* @66:5 */
    }
    {
    if (r_h475) r_h475->f_value = r_t477; /* @66:5 */
    }
    {
    return 0; /* pass */ /* @141:9 */
    }
L_bb132: ;
    {
    r_index_459 = 4U; /* @134:13 */
    }
    {
    r_t460 = 0x1ULL; /* @66:21 */
    }
    {
    u32 _t20 = r_index_459; /* @66:5 */
    r_h461 = stats.lookup(&_t20);
    }
    {
    r_t462 = r_h461 ? r_h461->f_value : 0; /* @66:5 */
    }
    {
    r_t463 = (u64)(r_t462 + r_t460); /* @66:5 */
    }
    {
    if (r_h461) r_h461->f_value = r_t463; /* @66:5 */
    }
    {
    return 2; /* drop */ /* @135:13 */
    }
L_bb127: ;
    {
    return 0; /* pass */ /* @126:71 */
    }
L_bb3: ;
    {
    r_t8 = 0; /* @87:13 */
    if (v_ipv4) {
        r_t8 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 16)))); /* @87:13 */
    }
    }
    {
    r_t9 = 4294967040U; /* @87:13 */
    }
    {
    r_t10 = (u32)(r_t8 & r_t9); /* @87:13 */
    }
    {
    r_t11 = 168493312U; /* @87:13 */
    }
    {
    r_t12 = r_t10 == r_t11; /* @87:13 */
    }
    {
    if (r_t12) goto L_bb5; else goto L_bb6; /* @87:13 */
    }
L_bb6: ;
    {
    r_t13 = v_tcp; /* @88:15 */
    }
    {
    r_t14 = v_udp; /* @88:28 */
    }
    {
    r_t15 = (u8)(r_t13 | r_t14); /* @88:15 */
    }
    {
    if (r_t15) goto L_bb8; else goto L_bb7; /* @88:15 */
    }
L_bb7: ;
    {
    r_index_17 = 5U; /* @89:13 */
    }
    {
    r_t18 = 0x1ULL; /* @66:21 */
    }
    {
    u32 _t21 = r_index_17; /* @66:5 */
    r_h19 = stats.lookup(&_t21);
    }
    {
    r_t20 = r_h19 ? r_h19->f_value : 0; /* @66:5 */
    }
    {
    r_t21 = (u64)(r_t20 + r_t18); /* @66:5 */
    }
    {
    if (r_h19) r_h19->f_value = r_t21; /* @66:5 */
    }
    {
    return 2; /* drop */ /* @90:13 */
    }
L_bb8: ;
    {
    r_t27 = v_tcp; /* @92:17 */
    }
    {
    r_flow_saddr22 = 0; /* @92:17 */
    if (v_ipv4) {
        r_flow_saddr22 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @92:17 */
    }
    }
    {
    r_flow_daddr23 = 0; /* @92:17 */
    if (v_ipv4) {
        r_flow_daddr23 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 16)))); /* @92:17 */
    }
    }
    {
    r_flow_proto26 = 0; /* @92:17 */
    if (v_ipv4) {
        r_flow_proto26 = (u8)(((u64)(*(u8 *)(h_ipv4 + 9)))); /* @92:17 */
    }
    }
    {
    if (r_t27) goto L_bb10; else goto L_bb11; /* @92:17 */
    }
L_bb11: ;
    {
    r_flow_sport24 = 0; /* @92:17 */
    if (v_udp) {
        r_flow_sport24 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_udp + 0)))); /* @92:17 */
    }
    }
    {
    r_flow_dport25 = 0; /* @92:17 */
    if (v_udp) {
        r_flow_dport25 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_udp + 2)))); /* @92:17 */
    }
    }
    {
    goto L_bb12; /* @92:17 */
    }
L_bb10: ;
    {
    r_flow_sport24 = 0; /* @92:17 */
    if (v_tcp) {
        r_flow_sport24 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_tcp + 0)))); /* @92:17 */
    }
    }
    {
    r_flow_dport25 = 0; /* @92:17 */
    if (v_tcp) {
        r_flow_dport25 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_tcp + 2)))); /* @92:17 */
    }
    }
    {
    goto L_bb12; /* @92:17 */
    }
L_bb12: ;
    {
    r_f_28 = r_flow_saddr22; /* @92:9 */
    }
    {
    r_f_29 = r_flow_daddr23; /* @92:9 */
    }
    {
    r_f_30 = r_flow_sport24; /* @92:9 */
    }
    {
    r_f_31 = r_flow_dport25; /* @92:9 */
    }
    {
    r_f_32 = r_flow_proto26; /* @92:9 */
    }
    {
    r_port_34 = 0U; /* @93:9 */
    }
    {
    struct nat_out_key _t22; __builtin_memset(&_t22, 0, sizeof(_t22)); /* @94:13 */
    _t22.f_saddr = r_f_28;
    _t22.f_daddr = r_f_29;
    _t22.f_sport = r_f_30;
    _t22.f_dport = r_f_31;
    _t22.f_proto = r_f_32;
    r_h35 = nat_out.lookup(&_t22);
    }
    {
    r_t36 = r_h35 != NULL; /* @94:13 */
    }
    {
    if (r_t36) goto L_bb13; else goto L_bb20; /* @94:13 */
    }
L_bb13: ;
    {
    r_h37 = r_h35; /* @95:21 */
    }
    {
    r_t38 = r_h37 ? r_h37->f_value : 0; /* @95:21 */
    }
    {
    r_p_39 = r_t38; /* @95:13 */
    }
    {
    struct nat_in_key _t23; __builtin_memset(&_t23, 0, sizeof(_t23)); /* @96:17 */
    _t23.f_f0 = r_f_32;
    _t23.f_f1 = r_p_39;
    r_h40 = nat_in.lookup(&_t23);
    }
    {
    r_t41 = r_h40 != NULL; /* @96:17 */
    }
    {
    if (r_t41) goto L_bb17; else goto L_bb20; /* @96:17 */
    }
L_bb17: ;
    {
    r_h42 = r_h40; /* @96:48 */
    }
    {
    r_t43 = r_h42 ? r_h42->f_inside_addr : 0; /* @96:48 */
    }
    {
    r_t44 = r_h42 ? r_h42->f_inside_port : 0; /* @96:48 */
    }
    {
    r_t45 = r_h42 ? r_h42->f_remote_addr : 0; /* @96:48 */
    }
    {
    r_t46 = r_h42 ? r_h42->f_remote_port : 0; /* @96:48 */
    }
    {
    r_b_48 = r_t43; /* @96:43 */
    }
    {
    r_b_49 = r_t44; /* @96:43 */
    }
    {
    r_b_50 = r_t45; /* @96:43 */
    }
    {
    r_b_51 = r_t46; /* @96:43 */
    }
    {
    r_f_53 = r_f_28; /* @96:43 */
    }
    {
    r_f_54 = r_f_29; /* @96:43 */
    }
    {
    r_f_55 = r_f_30; /* @96:43 */
    }
    {
    r_f_56 = r_f_31; /* @96:43 */
    }
    {
    r_t59 = r_b_48 == r_f_53; /* @77:12 */
    }
    {
    r_t60 = r_b_49 == r_f_55; /* @77:40 */
    }
    {
    r_t61 = (u8)(r_t59 & r_t60); /* @77:12 */
    }
    {
    r_t62 = r_b_50 == r_f_54; /* @78:12 */
    }
    {
    r_t63 = (u8)(r_t61 & r_t62); /* @77:12 */
    }
    {
    r_t64 = r_b_51 == r_f_56; /* @78:40 */
    }
    {
    r_t65 = (u8)(r_t63 & r_t64); /* @77:12 */
    }
    {
    r_ret58 = r_t65; /* @77:5 */
    }
    {
    if (r_ret58) goto L_bb15; else goto L_bb20; /* @96:43 */
    }
L_bb15: ;
    {
    r_port_34 = r_p_39; /* @96:76 */
    }
    {
    goto L_bb20; /* @96:13 */
    }
L_bb20: ;
    {
    r_t66 = 0U; /* @98:21 */
    }
    {
    r_t67 = r_port_34 == r_t66; /* @98:13 */
    }
    {
    if (r_t67) goto L_bb21; else goto L_bb115; /* @98:13 */
    }
L_bb21: ;
    {
    u64 _t24 = 0x9e3779b97f4a7c15ULL; /* @99:21 */
    _t24 = cora_mix64(_t24 ^ (u64)r_f_28);
    _t24 = cora_mix64(_t24 ^ (u64)r_f_29);
    _t24 = cora_mix64(_t24 ^ (u64)r_f_30);
    _t24 = cora_mix64(_t24 ^ (u64)r_f_31);
    _t24 = cora_mix64(_t24 ^ (u64)r_f_32);
    r_t68 = (u32)(_t24 ^ (_t24 >> 32)); /* @99:21 */
    }
    {
    r_h_69 = r_t68; /* @99:13 */
    }
    {
    r_t70 = 0U; /* @100:13 */
    }
    {
    r_t71 = 0U; /* @101:29 */
    }
    {
    r_t72 = r_port_34 == r_t71; /* @101:21 */
    }
    {
    if (r_t72) goto L_bb23; else goto L_bb33; /* @101:21 */
    }
L_bb23: ;
    {
    r_t73 = 20000U; /* @102:38 */
    }
    {
    r_t74 = (u32)(r_h_69 + r_t70); /* @102:50 */
    }
    {
    r_t75 = 8192U; /* @102:59 */
    }
    {
    r_t76 = (r_t75 ? (u32)(r_t74 % r_t75) : r_t74); /* @102:49 */
    }
    {
    r_t77 = (u32)(r_t73 + r_t76); /* @102:38 */
    }
    {
    r_t78 = (u16)r_t77; /* @102:37 */
    }
    {
    r_candidate_79 = r_t78; /* @102:21 */
    }
    {
    r_key_80 = r_f_32; /* @103:21 */
    }
    {
    r_key_81 = r_candidate_79; /* @103:21 */
    }
    {
    struct nat_in_key _t25; __builtin_memset(&_t25, 0, sizeof(_t25)); /* @104:27 */
    _t25.f_f0 = r_key_80;
    _t25.f_f1 = r_key_81;
    r_h82 = nat_in.lookup(&_t25);
    }
    {
    r_t83 = r_h82 != NULL; /* @104:27 */
    }
    {
    if (r_t83) goto L_bb27; else goto L_bb25; /* @104:27 */
    }
L_bb27: ;
    {
    r_h84 = r_h82; /* @104:53 */
    }
    {
    r_t89 = r_h84 ? r_h84->f_last_ns : 0; /* @104:53 */
    }
    {
    r_b_94 = r_t89; /* @104:45 */
    }
    {
    r_proto_95 = r_f_32; /* @104:45 */
    }
    {
    r_t_96 = r_t_2; /* @104:45 */
    }
    {
    r_limit_99 = 0x6fc23ac00ULL; /* @70:5 */
    }
    {
    r_t100 = 6U; /* @71:18 */
    }
    {
    r_t101 = r_proto_95 == r_t100; /* @71:9 */
    }
    {
    if (r_t101) goto L_bb29; else goto L_bb31; /* @71:9 */
    }
L_bb29: ;
    {
    r_limit_99 = 0x45d964b800ULL; /* @71:31 */
    }
    {
    goto L_bb31; /* @71:5 */
    }
L_bb31: ;
    {
    r_t103 = r_t_96 > r_b_94; /* @72:12 */
    }
    {
    r_t104 = (u64)(r_t_96 - r_b_94); /* @72:29 */
    }
    {
    r_t105 = r_t104 > r_limit_99; /* @72:29 */
    }
    {
    r_t106 = (u8)(r_t103 & r_t105); /* @72:12 */
    }
    {
    r_ret97 = r_t106; /* @72:5 */
    }
    {
    if (r_ret97) goto L_bb25; else goto L_bb33; /* @104:45 */
    }
L_bb25: ;
    {
    r_port_34 = r_candidate_79; /* @104:81 */
    }
    {
    goto L_bb33; /* @104:21 */
    }
L_bb33: ;
    {
    r_t107 = 1U; /* @100:13 */
    }
    {
    r_t108 = 0U; /* @101:29 */
    }
    {
    r_t109 = r_port_34 == r_t108; /* @101:21 */
    }
    {
    if (r_t109) goto L_bb34; else goto L_bb44; /* @101:21 */
    }
L_bb34: ;
    {
    r_t110 = 20000U; /* @102:38 */
    }
    {
    r_t111 = (u32)(r_h_69 + r_t107); /* @102:50 */
    }
    {
    r_t112 = 8192U; /* @102:59 */
    }
    {
    r_t113 = (r_t112 ? (u32)(r_t111 % r_t112) : r_t111); /* @102:49 */
    }
    {
    r_t114 = (u32)(r_t110 + r_t113); /* @102:38 */
    }
    {
    r_t115 = (u16)r_t114; /* @102:37 */
    }
    {
    r_candidate_116 = r_t115; /* @102:21 */
    }
    {
    r_key_117 = r_f_32; /* @103:21 */
    }
    {
    r_key_118 = r_candidate_116; /* @103:21 */
    }
    {
    struct nat_in_key _t26; __builtin_memset(&_t26, 0, sizeof(_t26)); /* @104:27 */
    _t26.f_f0 = r_key_117;
    _t26.f_f1 = r_key_118;
    r_h119 = nat_in.lookup(&_t26);
    }
    {
    r_t120 = r_h119 != NULL; /* @104:27 */
    }
    {
    if (r_t120) goto L_bb38; else goto L_bb36; /* @104:27 */
    }
L_bb38: ;
    {
    r_h121 = r_h119; /* @104:53 */
    }
    {
    r_t126 = r_h121 ? r_h121->f_last_ns : 0; /* @104:53 */
    }
    {
    r_b_131 = r_t126; /* @104:45 */
    }
    {
    r_proto_132 = r_f_32; /* @104:45 */
    }
    {
    r_t_133 = r_t_2; /* @104:45 */
    }
    {
    r_limit_136 = 0x6fc23ac00ULL; /* @70:5 */
    }
    {
    r_t137 = 6U; /* @71:18 */
    }
    {
    r_t138 = r_proto_132 == r_t137; /* @71:9 */
    }
    {
    if (r_t138) goto L_bb40; else goto L_bb42; /* @71:9 */
    }
L_bb40: ;
    {
    r_limit_136 = 0x45d964b800ULL; /* @71:31 */
    }
    {
    goto L_bb42; /* @71:5 */
    }
L_bb42: ;
    {
    r_t140 = r_t_133 > r_b_131; /* @72:12 */
    }
    {
    r_t141 = (u64)(r_t_133 - r_b_131); /* @72:29 */
    }
    {
    r_t142 = r_t141 > r_limit_136; /* @72:29 */
    }
    {
    r_t143 = (u8)(r_t140 & r_t142); /* @72:12 */
    }
    {
    r_ret134 = r_t143; /* @72:5 */
    }
    {
    if (r_ret134) goto L_bb36; else goto L_bb44; /* @104:45 */
    }
L_bb36: ;
    {
    r_port_34 = r_candidate_116; /* @104:81 */
    }
    {
    goto L_bb44; /* @104:21 */
    }
L_bb44: ;
    {
    r_t144 = 2U; /* @100:13 */
    }
    {
    r_t145 = 0U; /* @101:29 */
    }
    {
    r_t146 = r_port_34 == r_t145; /* @101:21 */
    }
    {
    if (r_t146) goto L_bb45; else goto L_bb55; /* @101:21 */
    }
L_bb45: ;
    {
    r_t147 = 20000U; /* @102:38 */
    }
    {
    r_t148 = (u32)(r_h_69 + r_t144); /* @102:50 */
    }
    {
    r_t149 = 8192U; /* @102:59 */
    }
    {
    r_t150 = (r_t149 ? (u32)(r_t148 % r_t149) : r_t148); /* @102:49 */
    }
    {
    r_t151 = (u32)(r_t147 + r_t150); /* @102:38 */
    }
    {
    r_t152 = (u16)r_t151; /* @102:37 */
    }
    {
    r_candidate_153 = r_t152; /* @102:21 */
    }
    {
    r_key_154 = r_f_32; /* @103:21 */
    }
    {
    r_key_155 = r_candidate_153; /* @103:21 */
    }
    {
    struct nat_in_key _t27; __builtin_memset(&_t27, 0, sizeof(_t27)); /* @104:27 */
    _t27.f_f0 = r_key_154;
    _t27.f_f1 = r_key_155;
    r_h156 = nat_in.lookup(&_t27);
    }
    {
    r_t157 = r_h156 != NULL; /* @104:27 */
    }
    {
    if (r_t157) goto L_bb49; else goto L_bb47; /* @104:27 */
    }
L_bb49: ;
    {
    r_h158 = r_h156; /* @104:53 */
    }
    {
    r_t163 = r_h158 ? r_h158->f_last_ns : 0; /* @104:53 */
    }
    {
    r_b_168 = r_t163; /* @104:45 */
    }
    {
    r_proto_169 = r_f_32; /* @104:45 */
    }
    {
    r_t_170 = r_t_2; /* @104:45 */
    }
    {
    r_limit_173 = 0x6fc23ac00ULL; /* @70:5 */
    }
    {
    r_t174 = 6U; /* @71:18 */
    }
    {
    r_t175 = r_proto_169 == r_t174; /* @71:9 */
    }
    {
    if (r_t175) goto L_bb51; else goto L_bb53; /* @71:9 */
    }
L_bb51: ;
    {
    r_limit_173 = 0x45d964b800ULL; /* @71:31 */
    }
    {
    goto L_bb53; /* @71:5 */
    }
L_bb53: ;
    {
    r_t177 = r_t_170 > r_b_168; /* @72:12 */
    }
    {
    r_t178 = (u64)(r_t_170 - r_b_168); /* @72:29 */
    }
    {
    r_t179 = r_t178 > r_limit_173; /* @72:29 */
    }
    {
    r_t180 = (u8)(r_t177 & r_t179); /* @72:12 */
    }
    {
    r_ret171 = r_t180; /* @72:5 */
    }
    {
    if (r_ret171) goto L_bb47; else goto L_bb55; /* @104:45 */
    }
L_bb47: ;
    {
    r_port_34 = r_candidate_153; /* @104:81 */
    }
    {
    goto L_bb55; /* @104:21 */
    }
L_bb55: ;
    {
    r_t181 = 3U; /* @100:13 */
    }
    {
    r_t182 = 0U; /* @101:29 */
    }
    {
    r_t183 = r_port_34 == r_t182; /* @101:21 */
    }
    {
    if (r_t183) goto L_bb56; else goto L_bb66; /* @101:21 */
    }
L_bb56: ;
    {
    r_t184 = 20000U; /* @102:38 */
    }
    {
    r_t185 = (u32)(r_h_69 + r_t181); /* @102:50 */
    }
    {
    r_t186 = 8192U; /* @102:59 */
    }
    {
    r_t187 = (r_t186 ? (u32)(r_t185 % r_t186) : r_t185); /* @102:49 */
    }
    {
    r_t188 = (u32)(r_t184 + r_t187); /* @102:38 */
    }
    {
    r_t189 = (u16)r_t188; /* @102:37 */
    }
    {
    r_candidate_190 = r_t189; /* @102:21 */
    }
    {
    r_key_191 = r_f_32; /* @103:21 */
    }
    {
    r_key_192 = r_candidate_190; /* @103:21 */
    }
    {
    struct nat_in_key _t28; __builtin_memset(&_t28, 0, sizeof(_t28)); /* @104:27 */
    _t28.f_f0 = r_key_191;
    _t28.f_f1 = r_key_192;
    r_h193 = nat_in.lookup(&_t28);
    }
    {
    r_t194 = r_h193 != NULL; /* @104:27 */
    }
    {
    if (r_t194) goto L_bb60; else goto L_bb58; /* @104:27 */
    }
L_bb60: ;
    {
    r_h195 = r_h193; /* @104:53 */
    }
    {
    r_t200 = r_h195 ? r_h195->f_last_ns : 0; /* @104:53 */
    }
    {
    r_b_205 = r_t200; /* @104:45 */
    }
    {
    r_proto_206 = r_f_32; /* @104:45 */
    }
    {
    r_t_207 = r_t_2; /* @104:45 */
    }
    {
    r_limit_210 = 0x6fc23ac00ULL; /* @70:5 */
    }
    {
    r_t211 = 6U; /* @71:18 */
    }
    {
    r_t212 = r_proto_206 == r_t211; /* @71:9 */
    }
    {
    if (r_t212) goto L_bb62; else goto L_bb64; /* @71:9 */
    }
L_bb62: ;
    {
    r_limit_210 = 0x45d964b800ULL; /* @71:31 */
    }
    {
    goto L_bb64; /* @71:5 */
    }
L_bb64: ;
    {
    r_t214 = r_t_207 > r_b_205; /* @72:12 */
    }
    {
    r_t215 = (u64)(r_t_207 - r_b_205); /* @72:29 */
    }
    {
    r_t216 = r_t215 > r_limit_210; /* @72:29 */
    }
    {
    r_t217 = (u8)(r_t214 & r_t216); /* @72:12 */
    }
    {
    r_ret208 = r_t217; /* @72:5 */
    }
    {
    if (r_ret208) goto L_bb58; else goto L_bb66; /* @104:45 */
    }
L_bb58: ;
    {
    r_port_34 = r_candidate_190; /* @104:81 */
    }
    {
    goto L_bb66; /* @104:21 */
    }
L_bb66: ;
    {
    r_t218 = 4U; /* @100:13 */
    }
    {
    r_t219 = 0U; /* @101:29 */
    }
    {
    r_t220 = r_port_34 == r_t219; /* @101:21 */
    }
    {
    if (r_t220) goto L_bb67; else goto L_bb77; /* @101:21 */
    }
L_bb67: ;
    {
    r_t221 = 20000U; /* @102:38 */
    }
    {
    r_t222 = (u32)(r_h_69 + r_t218); /* @102:50 */
    }
    {
    r_t223 = 8192U; /* @102:59 */
    }
    {
    r_t224 = (r_t223 ? (u32)(r_t222 % r_t223) : r_t222); /* @102:49 */
    }
    {
    r_t225 = (u32)(r_t221 + r_t224); /* @102:38 */
    }
    {
    r_t226 = (u16)r_t225; /* @102:37 */
    }
    {
    r_candidate_227 = r_t226; /* @102:21 */
    }
    {
    r_key_228 = r_f_32; /* @103:21 */
    }
    {
    r_key_229 = r_candidate_227; /* @103:21 */
    }
    {
    struct nat_in_key _t29; __builtin_memset(&_t29, 0, sizeof(_t29)); /* @104:27 */
    _t29.f_f0 = r_key_228;
    _t29.f_f1 = r_key_229;
    r_h230 = nat_in.lookup(&_t29);
    }
    {
    r_t231 = r_h230 != NULL; /* @104:27 */
    }
    {
    if (r_t231) goto L_bb71; else goto L_bb69; /* @104:27 */
    }
L_bb71: ;
    {
    r_h232 = r_h230; /* @104:53 */
    }
    {
    r_t237 = r_h232 ? r_h232->f_last_ns : 0; /* @104:53 */
    }
    {
    r_b_242 = r_t237; /* @104:45 */
    }
    {
    r_proto_243 = r_f_32; /* @104:45 */
    }
    {
    r_t_244 = r_t_2; /* @104:45 */
    }
    {
    r_limit_247 = 0x6fc23ac00ULL; /* @70:5 */
    }
    {
    r_t248 = 6U; /* @71:18 */
    }
    {
    r_t249 = r_proto_243 == r_t248; /* @71:9 */
    }
    {
    if (r_t249) goto L_bb73; else goto L_bb75; /* @71:9 */
    }
L_bb73: ;
    {
    r_limit_247 = 0x45d964b800ULL; /* @71:31 */
    }
    {
    goto L_bb75; /* @71:5 */
    }
L_bb75: ;
    {
    r_t251 = r_t_244 > r_b_242; /* @72:12 */
    }
    {
    r_t252 = (u64)(r_t_244 - r_b_242); /* @72:29 */
    }
    {
    r_t253 = r_t252 > r_limit_247; /* @72:29 */
    }
    {
    r_t254 = (u8)(r_t251 & r_t253); /* @72:12 */
    }
    {
    r_ret245 = r_t254; /* @72:5 */
    }
    {
    if (r_ret245) goto L_bb69; else goto L_bb77; /* @104:45 */
    }
L_bb69: ;
    {
    r_port_34 = r_candidate_227; /* @104:81 */
    }
    {
    goto L_bb77; /* @104:21 */
    }
L_bb77: ;
    {
    r_t255 = 5U; /* @100:13 */
    }
    {
    r_t256 = 0U; /* @101:29 */
    }
    {
    r_t257 = r_port_34 == r_t256; /* @101:21 */
    }
    {
    if (r_t257) goto L_bb78; else goto L_bb88; /* @101:21 */
    }
L_bb78: ;
    {
    r_t258 = 20000U; /* @102:38 */
    }
    {
    r_t259 = (u32)(r_h_69 + r_t255); /* @102:50 */
    }
    {
    r_t260 = 8192U; /* @102:59 */
    }
    {
    r_t261 = (r_t260 ? (u32)(r_t259 % r_t260) : r_t259); /* @102:49 */
    }
    {
    r_t262 = (u32)(r_t258 + r_t261); /* @102:38 */
    }
    {
    r_t263 = (u16)r_t262; /* @102:37 */
    }
    {
    r_candidate_264 = r_t263; /* @102:21 */
    }
    {
    r_key_265 = r_f_32; /* @103:21 */
    }
    {
    r_key_266 = r_candidate_264; /* @103:21 */
    }
    {
    struct nat_in_key _t30; __builtin_memset(&_t30, 0, sizeof(_t30)); /* @104:27 */
    _t30.f_f0 = r_key_265;
    _t30.f_f1 = r_key_266;
    r_h267 = nat_in.lookup(&_t30);
    }
    {
    r_t268 = r_h267 != NULL; /* @104:27 */
    }
    {
    if (r_t268) goto L_bb82; else goto L_bb80; /* @104:27 */
    }
L_bb82: ;
    {
    r_h269 = r_h267; /* @104:53 */
    }
    {
    r_t274 = r_h269 ? r_h269->f_last_ns : 0; /* @104:53 */
    }
    {
    r_b_279 = r_t274; /* @104:45 */
    }
    {
    r_proto_280 = r_f_32; /* @104:45 */
    }
    {
    r_t_281 = r_t_2; /* @104:45 */
    }
    {
    r_limit_284 = 0x6fc23ac00ULL; /* @70:5 */
    }
    {
    r_t285 = 6U; /* @71:18 */
    }
    {
    r_t286 = r_proto_280 == r_t285; /* @71:9 */
    }
    {
    if (r_t286) goto L_bb84; else goto L_bb86; /* @71:9 */
    }
L_bb84: ;
    {
    r_limit_284 = 0x45d964b800ULL; /* @71:31 */
    }
    {
    goto L_bb86; /* @71:5 */
    }
L_bb86: ;
    {
    r_t288 = r_t_281 > r_b_279; /* @72:12 */
    }
    {
    r_t289 = (u64)(r_t_281 - r_b_279); /* @72:29 */
    }
    {
    r_t290 = r_t289 > r_limit_284; /* @72:29 */
    }
    {
    r_t291 = (u8)(r_t288 & r_t290); /* @72:12 */
    }
    {
    r_ret282 = r_t291; /* @72:5 */
    }
    {
    if (r_ret282) goto L_bb80; else goto L_bb88; /* @104:45 */
    }
L_bb80: ;
    {
    r_port_34 = r_candidate_264; /* @104:81 */
    }
    {
    goto L_bb88; /* @104:21 */
    }
L_bb88: ;
    {
    r_t292 = 6U; /* @100:13 */
    }
    {
    r_t293 = 0U; /* @101:29 */
    }
    {
    r_t294 = r_port_34 == r_t293; /* @101:21 */
    }
    {
    if (r_t294) goto L_bb89; else goto L_bb99; /* @101:21 */
    }
L_bb89: ;
    {
    r_t295 = 20000U; /* @102:38 */
    }
    {
    r_t296 = (u32)(r_h_69 + r_t292); /* @102:50 */
    }
    {
    r_t297 = 8192U; /* @102:59 */
    }
    {
    r_t298 = (r_t297 ? (u32)(r_t296 % r_t297) : r_t296); /* @102:49 */
    }
    {
    r_t299 = (u32)(r_t295 + r_t298); /* @102:38 */
    }
    {
    r_t300 = (u16)r_t299; /* @102:37 */
    }
    {
    r_candidate_301 = r_t300; /* @102:21 */
    }
    {
    r_key_302 = r_f_32; /* @103:21 */
    }
    {
    r_key_303 = r_candidate_301; /* @103:21 */
    }
    {
    struct nat_in_key _t31; __builtin_memset(&_t31, 0, sizeof(_t31)); /* @104:27 */
    _t31.f_f0 = r_key_302;
    _t31.f_f1 = r_key_303;
    r_h304 = nat_in.lookup(&_t31);
    }
    {
    r_t305 = r_h304 != NULL; /* @104:27 */
    }
    {
    if (r_t305) goto L_bb93; else goto L_bb91; /* @104:27 */
    }
L_bb93: ;
    {
    r_h306 = r_h304; /* @104:53 */
    }
    {
    r_t311 = r_h306 ? r_h306->f_last_ns : 0; /* @104:53 */
    }
    {
    r_b_316 = r_t311; /* @104:45 */
    }
    {
    r_proto_317 = r_f_32; /* @104:45 */
    }
    {
    r_t_318 = r_t_2; /* @104:45 */
    }
    {
    r_limit_321 = 0x6fc23ac00ULL; /* @70:5 */
    }
    {
    r_t322 = 6U; /* @71:18 */
    }
    {
    r_t323 = r_proto_317 == r_t322; /* @71:9 */
    }
    {
    if (r_t323) goto L_bb95; else goto L_bb97; /* @71:9 */
    }
L_bb95: ;
    {
    r_limit_321 = 0x45d964b800ULL; /* @71:31 */
    }
    {
    goto L_bb97; /* @71:5 */
    }
L_bb97: ;
    {
    r_t325 = r_t_318 > r_b_316; /* @72:12 */
    }
    {
    r_t326 = (u64)(r_t_318 - r_b_316); /* @72:29 */
    }
    {
    r_t327 = r_t326 > r_limit_321; /* @72:29 */
    }
    {
    r_t328 = (u8)(r_t325 & r_t327); /* @72:12 */
    }
    {
    r_ret319 = r_t328; /* @72:5 */
    }
    {
    if (r_ret319) goto L_bb91; else goto L_bb99; /* @104:45 */
    }
L_bb91: ;
    {
    r_port_34 = r_candidate_301; /* @104:81 */
    }
    {
    goto L_bb99; /* @104:21 */
    }
L_bb99: ;
    {
    r_t329 = 7U; /* @100:13 */
    }
    {
    r_t330 = 0U; /* @101:29 */
    }
    {
    r_t331 = r_port_34 == r_t330; /* @101:21 */
    }
    {
    if (r_t331) goto L_bb100; else goto L_bb110; /* @101:21 */
    }
L_bb100: ;
    {
    r_t332 = 20000U; /* @102:38 */
    }
    {
    r_t333 = (u32)(r_h_69 + r_t329); /* @102:50 */
    }
    {
    r_t334 = 8192U; /* @102:59 */
    }
    {
    r_t335 = (r_t334 ? (u32)(r_t333 % r_t334) : r_t333); /* @102:49 */
    }
    {
    r_t336 = (u32)(r_t332 + r_t335); /* @102:38 */
    }
    {
    r_t337 = (u16)r_t336; /* @102:37 */
    }
    {
    r_candidate_338 = r_t337; /* @102:21 */
    }
    {
    r_key_339 = r_f_32; /* @103:21 */
    }
    {
    r_key_340 = r_candidate_338; /* @103:21 */
    }
    {
    struct nat_in_key _t32; __builtin_memset(&_t32, 0, sizeof(_t32)); /* @104:27 */
    _t32.f_f0 = r_key_339;
    _t32.f_f1 = r_key_340;
    r_h341 = nat_in.lookup(&_t32);
    }
    {
    r_t342 = r_h341 != NULL; /* @104:27 */
    }
    {
    if (r_t342) goto L_bb104; else goto L_bb102; /* @104:27 */
    }
L_bb104: ;
    {
    r_h343 = r_h341; /* @104:53 */
    }
    {
    r_t348 = r_h343 ? r_h343->f_last_ns : 0; /* @104:53 */
    }
    {
    r_b_353 = r_t348; /* @104:45 */
    }
    {
    r_proto_354 = r_f_32; /* @104:45 */
    }
    {
    r_t_355 = r_t_2; /* @104:45 */
    }
    {
    r_limit_358 = 0x6fc23ac00ULL; /* @70:5 */
    }
    {
    r_t359 = 6U; /* @71:18 */
    }
    {
    r_t360 = r_proto_354 == r_t359; /* @71:9 */
    }
    {
    if (r_t360) goto L_bb106; else goto L_bb108; /* @71:9 */
    }
L_bb106: ;
    {
    r_limit_358 = 0x45d964b800ULL; /* @71:31 */
    }
    {
    goto L_bb108; /* @71:5 */
    }
L_bb108: ;
    {
    r_t362 = r_t_355 > r_b_353; /* @72:12 */
    }
    {
    r_t363 = (u64)(r_t_355 - r_b_353); /* @72:29 */
    }
    {
    r_t364 = r_t363 > r_limit_358; /* @72:29 */
    }
    {
    r_t365 = (u8)(r_t362 & r_t364); /* @72:12 */
    }
    {
    r_ret356 = r_t365; /* @72:5 */
    }
    {
    if (r_ret356) goto L_bb102; else goto L_bb110; /* @104:45 */
    }
L_bb102: ;
    {
    r_port_34 = r_candidate_338; /* @104:81 */
    }
    {
    goto L_bb110; /* @104:21 */
    }
L_bb110: ;
    {
    r_t366 = 0U; /* @107:25 */
    }
    {
    r_t367 = r_port_34 == r_t366; /* @107:17 */
    }
    {
    if (r_t367) goto L_bb111; else goto L_bb112; /* @107:17 */
    }
L_bb112: ;
    {
    r_found0 = r_h35 != NULL; /* @111:13 */
    }
    {
    if (r_found0) goto L_inplace0; else goto L_update0; /* @111:13 */
    }
L_update0: ;
    {
    struct nat_out_key _t33; __builtin_memset(&_t33, 0, sizeof(_t33)); /* @111:13 */
    _t33.f_saddr = r_f_28;
    _t33.f_daddr = r_f_29;
    _t33.f_sport = r_f_30;
    _t33.f_dport = r_f_31;
    _t33.f_proto = r_f_32;
    struct nat_out_value _t34; __builtin_memset(&_t34, 0, sizeof(_t34));
    _t34.f_value = r_port_34;
    r_t374 = nat_out.update(&_t33, &_t34) == 0;
    }
    {
    goto L_joined0; /* @111:13 */
    }
L_inplace0: ;
    {
    if (r_h35) r_h35->f_value = r_port_34; /* @111:13 */
    }
    {
    goto L_joined0; /* @111:13 */
    }
L_joined0: ;
    {
    r_index_376 = 2U; /* @112:13 */
    }
    {
    r_t377 = 0x1ULL; /* @66:21 */
    }
    {
    u32 _t35 = r_index_376; /* @66:5 */
    r_h378 = stats.lookup(&_t35);
    }
    {
    r_t379 = r_h378 ? r_h378->f_value : 0; /* @66:5 */
    }
    {
    r_t380 = (u64)(r_t379 + r_t377); /* @66:5 */
    }
    {
    if (r_h378) r_h378->f_value = r_t380; /* @66:5 */
    }
    {
    goto L_bb115; /* @112:13 */
    }
L_bb115: ;
    {
    struct nat_in_key _t36; __builtin_memset(&_t36, 0, sizeof(_t36)); /* @114:9 */
    _t36.f_f0 = r_f_32;
    _t36.f_f1 = r_port_34;
    struct nat_in_value _t37; __builtin_memset(&_t37, 0, sizeof(_t37));
    _t37.f_inside_addr = r_f_28;
    _t37.f_inside_port = r_f_30;
    _t37.f_remote_addr = r_f_29;
    _t37.f_remote_port = r_f_31;
    _t37.f_last_ns = r_t_2;
    r_t381 = nat_in.update(&_t36, &_t37) == 0;
    }
    {
    if (r_t381) goto L_bb116; else goto L_bb117; /* @114:9 */
    }
L_bb117: ;
    {
    return 2; /* drop */ /* @114:9 */
    }
L_bb116: ;
    {
    r_t382 = 168493057U; /* @117:22 */
    }
    {
    if (v_ipv4) { /* store ipv4.saddr */ /* @117:9 */
        u32 _t38 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 12))) + (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_ipv4 + 14)));
        *(u32 *)(h_ipv4 + 12) = bpf_ntohl((u32)(r_t382));
        u32 _t39 = (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 12)) + (u32)bpf_ntohs(*(u16 *)(h_ipv4 + 14));
        if (1) {
            u32 _t40 = bpf_ntohs(*(u16 *)(h_ipv4 + 10));
            {
                u32 _t41 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t40) + _t38 + _t39);
                *(u16 *)(h_ipv4 + 10) = bpf_htons((u16)_t41);
            }
        }
        if (v_tcp) {
            u32 _t42 = bpf_ntohs(*(u16 *)(h_tcp + 16));
            {
                u32 _t43 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t42) + _t38 + _t39);
                *(u16 *)(h_tcp + 16) = bpf_htons((u16)_t43);
            }
        }
        if (v_udp) {
            u32 _t44 = bpf_ntohs(*(u16 *)(h_udp + 6));
            if (_t44 != 0) {
                u32 _t45 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t44) + _t38 + _t39);
                if (_t45 == 0) _t45 = 0xffff;
                *(u16 *)(h_udp + 6) = bpf_htons((u16)_t45);
            }
        }
    }
    }
    {
    r_t383 = v_tcp; /* @118:13 */
    }
    {
    if (r_t383) goto L_bb118; else goto L_bb119; /* @118:13 */
    }
L_bb119: ;
    {
    if (v_udp) { /* store udp.sport */ /* @118:53 */
        u32 _t46 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_udp + 0)));
        *(u16 *)(h_udp + 0) = bpf_ntohs((u16)(r_port_34));
        u32 _t47 = (u32)bpf_ntohs(*(u16 *)(h_udp + 0));
        if (1) {
            u32 _t48 = bpf_ntohs(*(u16 *)(h_udp + 6));
            if (_t48 != 0) {
                u32 _t49 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t48) + _t46 + _t47);
                if (_t49 == 0) _t49 = 0xffff;
                *(u16 *)(h_udp + 6) = bpf_htons((u16)_t49);
            }
        }
    }
    }
    {
    goto L_bb120; /* @118:9 */
    }
L_bb118: ;
    {
    if (v_tcp) { /* store tcp.sport */ /* @118:26 */
        u32 _t50 = (u32)(0xffff & ~bpf_ntohs(*(u16 *)(h_tcp + 0)));
        *(u16 *)(h_tcp + 0) = bpf_ntohs((u16)(r_port_34));
        u32 _t51 = (u32)bpf_ntohs(*(u16 *)(h_tcp + 0));
        if (1) {
            u32 _t52 = bpf_ntohs(*(u16 *)(h_tcp + 16));
            {
                u32 _t53 = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~_t52) + _t50 + _t51);
                *(u16 *)(h_tcp + 16) = bpf_htons((u16)_t53);
            }
        }
    }
    }
    {
    goto L_bb120; /* @118:9 */
    }
L_bb120: ;
    {
    r_index_385 = 0U; /* @119:9 */
    }
    {
    r_t386 = 0x1ULL; /* @66:21 */
    }
    {
    u32 _t54 = r_index_385; /* @66:5 */
    r_h387 = stats.lookup(&_t54);
    }
    {
    r_t388 = r_h387 ? r_h387->f_value : 0; /* @66:5 */
    }
    {
    r_t389 = (u64)(r_t388 + r_t386); /* @66:5 */
    }
    {
    if (r_h387) r_h387->f_value = r_t389; /* @66:5 */
    }
    {
    return 0; /* pass */ /* @120:9 */
    }
L_bb111: ;
    {
    r_index_369 = 3U; /* @108:17 */
    }
    {
    r_t370 = 0x1ULL; /* @66:21 */
    }
    {
    u32 _t55 = r_index_369; /* @66:5 */
    r_h371 = stats.lookup(&_t55);
    }
    {
    r_t372 = r_h371 ? r_h371->f_value : 0; /* @66:5 */
    }
    {
    r_t373 = (u64)(r_t372 + r_t370); /* @66:5 */
    }
    {
    if (r_h371) r_h371->f_value = r_t373; /* @66:5 */
    }
    {
    return 2; /* drop */ /* @109:17 */
    }
L_bb5: ;
    {
    return 0; /* pass */ /* @87:37 */
    }
}
