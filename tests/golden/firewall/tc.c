#include <uapi/linux/bpf.h>

#define CORA_CSUM_FOLD(s) ({ u64 _s = (s); _s = (_s & 0xffff) + (_s >> 16); \
    _s = (_s & 0xffff) + (_s >> 16); _s = (_s & 0xffff) + (_s >> 16); (u32)_s; })

static __always_inline u64 cora_mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
struct conns_key { u32 f_saddr; u32 f_daddr; u16 f_sport; u16 f_dport; u8 f_proto; };
struct conns_value { u64 f_last_ns; u8 f_fin; };
BPF_F_TABLE("lru_hash", struct conns_key, struct conns_value, conns, 65536, 0);
typedef u32 drops_index_t;
struct drops_value { u64 f_value; };
BPF_F_TABLE("percpu_array", drops_index_t, struct drops_value, drops, 8, 0);
int cora_tc(struct __sk_buff *ctx) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u16 r_t0 = 0;
    u16 r_l3type_1 = 0;
    u8 r_t2 = 0;
    u16 r_t3 = 0;
    u16 r_t4 = 0;
    u8 r_t5 = 0;
    u8 r_t6 = 0;
    u32 r_reason_8 = 0;
    u64 r_t9 = 0;
    struct drops_value *r_h10 = NULL;
    u64 r_t11 = 0;
    u64 r_t12 = 0;
    u8 r_t13 = 0;
    u8 r_proto_14 = 0;
    u16 r_t15 = 0;
    u16 r_t16 = 0;
    u8 r_t17 = 0;
    u8 r_t18 = 0;
    u8 r_t19 = 0;
    u8 r_t20 = 0;
    u8 r_t21 = 0;
    u8 r_t22 = 0;
    u8 r_t23 = 0;
    u8 r_t24 = 0;
    u8 r_t25 = 0;
    u8 r_t26 = 0;
    u8 r_t27 = 0;
    u8 r_t28 = 0;
    u8 r_t29 = 0;
    u8 r_t30 = 0;
    u8 r_t31 = 0;
    u8 r_t32 = 0;
    u8 r_t33 = 0;
    u8 r_t34 = 0;
    u32 r_reason_36 = 0;
    u64 r_t37 = 0;
    struct drops_value *r_h38 = NULL;
    u64 r_t39 = 0;
    u64 r_t40 = 0;
    u64 r_t41 = 0;
    u64 r_t_42 = 0;
    u32 r_t43 = 0;
    u32 r_t44 = 0;
    u32 r_t45 = 0;
    u32 r_t46 = 0;
    u8 r_t47 = 0;
    u8 r_inside_48 = 0;
    u8 r_t49 = 0;
    u8 r_t50 = 0;
    u8 r_t51 = 0;
    u8 r_ports_52 = 0;
    u8 r_echo_54 = 0;
    u8 r_t55 = 0;
    u8 r_t56 = 0;
    u8 r_t57 = 0;
    u8 r_t58 = 0;
    u8 r_t59 = 0;
    u8 r_t60 = 0;
    u8 r_t61 = 0;
    u32 r_flow_saddr62 = 0;
    u32 r_flow_daddr63 = 0;
    u16 r_flow_sport64 = 0;
    u16 r_flow_dport65 = 0;
    u8 r_flow_proto66 = 0;
    u8 r_t67 = 0;
    u8 r_t68 = 0;
    u8 r_t69 = 0;
    u8 r_t70 = 0;
    u8 r_t71 = 0;
    u32 r_k_72 = 0;
    u32 r_k_73 = 0;
    u16 r_k_74 = 0;
    u16 r_k_75 = 0;
    u8 r_k_76 = 0;
    u32 r_t77 = 0;
    u32 r_t78 = 0;
    u16 r_t79 = 0;
    u16 r_t80 = 0;
    u32 r_t82 = 0;
    u32 r_t83 = 0;
    u16 r_t84 = 0;
    u16 r_t85 = 0;
    u32 r_conn_87 = 0;
    u32 r_conn_88 = 0;
    u16 r_conn_89 = 0;
    u16 r_conn_90 = 0;
    u8 r_conn_91 = 0;
    u8 r_from_orig_93 = 0;
    u8 r_found_95 = 0;
    u8 r_t96 = 0;
    u32 r_k_97 = 0;
    u32 r_k_98 = 0;
    u16 r_k_99 = 0;
    u16 r_k_100 = 0;
    u8 r_k_101 = 0;
    u32 r_ret102 = 0;
    u32 r_ret103 = 0;
    u16 r_ret104 = 0;
    u16 r_ret105 = 0;
    u8 r_ret106 = 0;
    u32 r_r_107 = 0;
    u32 r_r_108 = 0;
    u16 r_r_109 = 0;
    u16 r_r_110 = 0;
    u8 r_r_111 = 0;
    u32 r_k_112 = 0;
    u32 r_k_113 = 0;
    u16 r_k_114 = 0;
    u16 r_k_115 = 0;
    u8 r_k_116 = 0;
    u64 r_t_117 = 0;
    u8 r_ret118 = 0;
    struct conns_value *r_h119 = NULL;
    u8 r_t120 = 0;
    struct conns_value *r_h122 = NULL;
    u64 r_t123 = 0;
    u8 r_t124 = 0;
    u64 r_c_125 = 0;
    u8 r_c_126 = 0;
    u8 r_t127 = 0;
    u64 r_t128 = 0;
    u8 r_proto_129 = 0;
    u8 r_fin_130 = 0;
    u64 r_ret131 = 0;
    u8 r_t132 = 0;
    u8 r_t133 = 0;
    u8 r_t136 = 0;
    u8 r_t137 = 0;
    u8 r_t141 = 0;
    u32 r_t144 = 0;
    u32 r_t145 = 0;
    u16 r_t146 = 0;
    u16 r_t147 = 0;
    u8 r_t148 = 0;
    u32 r_k_151 = 0;
    u32 r_k_152 = 0;
    u16 r_k_153 = 0;
    u16 r_k_154 = 0;
    u8 r_k_155 = 0;
    u64 r_t_156 = 0;
    u8 r_ret157 = 0;
    struct conns_value *r_h158 = NULL;
    u8 r_t159 = 0;
    struct conns_value *r_h161 = NULL;
    u64 r_t162 = 0;
    u8 r_t163 = 0;
    u64 r_c_164 = 0;
    u8 r_c_165 = 0;
    u8 r_t166 = 0;
    u64 r_t167 = 0;
    u8 r_proto_168 = 0;
    u8 r_fin_169 = 0;
    u64 r_ret170 = 0;
    u8 r_t171 = 0;
    u8 r_t172 = 0;
    u8 r_t175 = 0;
    u8 r_t176 = 0;
    u8 r_t180 = 0;
    u8 r_t184 = 0;
    u16 r_t185 = 0;
    u16 r_t186 = 0;
    u8 r_t187 = 0;
    u32 r_reason_189 = 0;
    u64 r_t190 = 0;
    struct drops_value *r_h191 = NULL;
    u64 r_t192 = 0;
    u64 r_t193 = 0;
    u8 r_t194 = 0;
    u8 r_t195 = 0;
    u8 r_t196 = 0;
    u8 r_t197 = 0;
    u32 r_t198 = 0;
    u32 r_t199 = 0;
    u32 r_t200 = 0;
    u32 r_t201 = 0;
    u8 r_t202 = 0;
    u32 r_reason_204 = 0;
    u64 r_t205 = 0;
    struct drops_value *r_h206 = NULL;
    u64 r_t207 = 0;
    u64 r_t208 = 0;
    u8 r_t209 = 0;
    u8 r_t210 = 0;
    u8 r_t211 = 0;
    u8 r_t212 = 0;
    u8 r_t213 = 0;
    u32 r_reason_215 = 0;
    u64 r_t216 = 0;
    struct drops_value *r_h217 = NULL;
    u64 r_t218 = 0;
    u64 r_t219 = 0;
    u32 r_reason_221 = 0;
    u64 r_t222 = 0;
    struct drops_value *r_h223 = NULL;
    u64 r_t224 = 0;
    u64 r_t225 = 0;
    u32 r_t226 = 0;
    u32 r_t227 = 0;
    u32 r_t228 = 0;
    u32 r_t229 = 0;
    u8 r_t230 = 0;
    u32 r_reason_232 = 0;
    u64 r_t233 = 0;
    struct drops_value *r_h234 = NULL;
    u64 r_t235 = 0;
    u64 r_t236 = 0;
    u16 r_flow_dport240 = 0;
    u8 r_t242 = 0;
    u8 r_t243 = 0;
    u8 r_t244 = 0;
    u8 r_t245 = 0;
    u8 r_t246 = 0;
    u16 r_port_247 = 0;
    u8 r_ret248 = 0;
    u16 r_t249 = 0;
    u8 r_t250 = 0;
    u16 r_t251 = 0;
    u8 r_t252 = 0;
    u8 r_t253 = 0;
    u16 r_t254 = 0;
    u8 r_t255 = 0;
    u8 r_t256 = 0;
    u32 r_reason_260 = 0;
    u64 r_t261 = 0;
    struct drops_value *r_h262 = NULL;
    u64 r_t263 = 0;
    u64 r_t264 = 0;
    u8 r_t265 = 0;
    u8 r_t266 = 0;
    u8 r_t273 = 0;
    u8 r_t274 = 0;
    u8 r_t275 = 0;
    u8 r_t276 = 0;
    u8 r_t277 = 0;
    u32 r_reason_279 = 0;
    u64 r_t280 = 0;
    struct drops_value *r_h281 = NULL;
    u64 r_t282 = 0;
    u64 r_t283 = 0;
    u32 r_k_284 = 0;
    u32 r_k_285 = 0;
    u16 r_k_286 = 0;
    u16 r_k_287 = 0;
    u8 r_k_288 = 0;
    u64 r_t_289 = 0;
    u8 r_from_orig_290 = 0;
    struct conns_value *r_h291 = NULL;
    u8 r_t292 = 0;
    u8 r_fin_293 = 0;
    u8 r_t294 = 0;
    u8 r_t295 = 0;
    u8 r_t296 = 0;
    u8 r_t297 = 0;
    u8 r_t298 = 0;
    u8 r_t299 = 0;
    u8 r_t300 = 0;
    u8 r_t303 = 0;
    u8 r_t304 = 0;
    u8 r_t305 = 0;
    u8 r_t306 = 0;
    u8 r_t307 = 0;
    u8 r_t309 = 0;
    u8 r_t310 = 0;
    u8 r_t311 = 0;
    u8 r_t312 = 0;
    u8 r_t313 = 0;
    u8 r_t314 = 0;
    u8 r_t315 = 0;
    u8 r_t316 = 0;
    u8 r_t317 = 0;
    u8 r_t318 = 0;
    u8 r_found0 = 0;
    if (data + 138 > data_end && ctx->len > (u32)(data_end - data)) {
        bpf_skb_pull_data(ctx, ctx->len < 138 ? ctx->len : 138);
        data = (void *)(long)ctx->data; data_end = (void *)(long)ctx->data_end;
    }
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
    r_t0 = 0; /* @136:18 */
    if (v_ethernet) {
        r_t0 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_ethernet + 12)))); /* @136:18 */
    }
    }
    {
    r_l3type_1 = r_t0; /* @136:5 */
    }
    {
    r_t2 = v_vlan; /* @137:9 */
    }
    {
    if (r_t2) goto L_bb1; else goto L_bb3; /* @137:9 */
    }
L_bb1: ;
    {
    r_t3 = 0; /* @137:32 */
    if (v_vlan) {
        r_t3 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_vlan + 2)))); /* @137:32 */
    }
    }
    {
    r_l3type_1 = r_t3; /* @137:23 */
    }
    {
    goto L_bb3; /* @137:5 */
    }
L_bb3: ;
    {
    r_t4 = 2048U; /* @138:19 */
    }
    {
    r_t5 = r_l3type_1 != r_t4; /* @138:9 */
    }
    {
    if (r_t5) goto L_bb4; else goto L_bb5; /* @138:9 */
    }
L_bb5: ;
    {
    r_t6 = v_ipv4; /* @141:10 */
    }
    {
    if (r_t6) goto L_bb7; else goto L_bb6; /* @141:10 */
    }
L_bb6: ;
    {
    r_reason_8 = 0U; /* @141:24 */
    }
    {
    r_t9 = 0x1ULL; /* @81:22 */
    }
    {
    u32 _t1 = r_reason_8; /* @81:5 */
    r_h10 = drops.lookup(&_t1);
    }
    {
    r_t11 = r_h10 ? r_h10->f_value : 0; /* @81:5 */
    }
    {
    r_t12 = (u64)(r_t11 + r_t9); /* @81:5 */
    }
    {
    if (r_h10) r_h10->f_value = r_t12; /* @81:5 */
    }
    {
    return 2; /* drop */ /* @82:5 */
    }
L_bb7: ;
    {
    r_t13 = 0; /* @142:17 */
    if (v_ipv4) {
        r_t13 = (u8)(((u64)(*(u8 *)(h_ipv4 + 9)))); /* @142:17 */
    }
    }
    {
    r_proto_14 = r_t13; /* @142:5 */
    }
    {
    r_t15 = 0; /* @143:9 */
    if (v_ipv4) {
        r_t15 = (u16)((((u64)bpf_ntohs(*(u16 *)(h_ipv4 + 6)))) & 8191U); /* @143:9 */
    }
    }
    {
    r_t16 = 0U; /* @143:29 */
    }
    {
    r_t17 = r_t15 == r_t16; /* @143:9 */
    }
    {
    if (r_t17) goto L_bb9; else goto L_bb14; /* @143:9 */
    }
L_bb9: ;
    {
    r_t18 = 6U; /* @144:23 */
    }
    {
    r_t19 = r_proto_14 == r_t18; /* @144:14 */
    }
    {
    r_t20 = v_tcp; /* @144:37 */
    }
    {
    r_t21 = !r_t20; /* @144:36 */
    }
    {
    r_t22 = (u8)(r_t19 & r_t21); /* @144:14 */
    }
    {
    r_t23 = 17U; /* @144:61 */
    }
    {
    r_t24 = r_proto_14 == r_t23; /* @144:52 */
    }
    {
    r_t25 = v_udp; /* @144:75 */
    }
    {
    r_t26 = !r_t25; /* @144:74 */
    }
    {
    r_t27 = (u8)(r_t24 & r_t26); /* @144:52 */
    }
    {
    r_t28 = (u8)(r_t22 | r_t27); /* @144:13 */
    }
    {
    r_t29 = 1U; /* @145:26 */
    }
    {
    r_t30 = r_proto_14 == r_t29; /* @145:17 */
    }
    {
    r_t31 = v_icmp; /* @145:41 */
    }
    {
    r_t32 = !r_t31; /* @145:40 */
    }
    {
    r_t33 = (u8)(r_t30 & r_t32); /* @145:17 */
    }
    {
    r_t34 = (u8)(r_t28 | r_t33); /* @144:13 */
    }
    {
    if (r_t34) goto L_bb11; else goto L_bb14; /* @144:13 */
    }
L_bb14: ;
    {
    r_t41 = bpf_ktime_get_ns(); /* @150:13 */
    }
    {
    r_t_42 = r_t41; /* @150:5 */
    }
    {
    r_t43 = 0; /* @151:18 */
    if (v_ipv4) {
        r_t43 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @151:18 */
    }
    }
    {
    r_t44 = 4294967040U; /* @151:18 */
    }
    {
    r_t45 = (u32)(r_t43 & r_t44); /* @151:18 */
    }
    {
    r_t46 = 168493312U; /* @151:18 */
    }
    {
    r_t47 = r_t45 == r_t46; /* @151:18 */
    }
    {
    r_inside_48 = r_t47; /* @151:5 */
    }
    {
    r_t49 = v_tcp; /* @152:17 */
    }
    {
    r_t50 = v_udp; /* @152:30 */
    }
    {
    r_t51 = (u8)(r_t49 | r_t50); /* @152:17 */
    }
    {
    r_ports_52 = r_t51; /* @152:5 */
    }
    {
    r_echo_54 = 0U; /* @154:5 */
    }
    {
    r_t55 = v_icmp; /* @155:9 */
    }
    {
    if (r_t55) goto L_bb15; else goto L_bb20; /* @155:9 */
    }
L_bb15: ;
    {
    if (r_inside_48) goto L_bb17; else goto L_bb18; /* @156:13 */
    }
L_bb18: ;
    {
    r_t59 = 0; /* @157:23 */
    if (v_icmp) {
        r_t59 = (u8)(((u64)(*(u8 *)(h_icmp + 0)))); /* @157:23 */
    }
    }
    {
    r_t60 = 0U; /* @157:36 */
    }
    {
    r_t61 = r_t59 == r_t60; /* @157:23 */
    }
    {
    r_echo_54 = r_t61; /* @157:16 */
    }
    {
    goto L_bb20; /* @156:9 */
    }
L_bb17: ;
    {
    r_t56 = 0; /* @156:30 */
    if (v_icmp) {
        r_t56 = (u8)(((u64)(*(u8 *)(h_icmp + 0)))); /* @156:30 */
    }
    }
    {
    r_t57 = 8U; /* @156:43 */
    }
    {
    r_t58 = r_t56 == r_t57; /* @156:30 */
    }
    {
    r_echo_54 = r_t58; /* @156:23 */
    }
    {
    goto L_bb20; /* @156:9 */
    }
L_bb20: ;
    {
    r_t67 = v_tcp; /* @160:19 */
    }
    {
    r_t68 = v_ipv4; /* @160:19 */
    }
    {
    r_t69 = v_udp; /* @160:19 */
    }
    {
    r_t70 = (u8)(r_t67 | r_t69); /* @160:19 */
    }
    {
    r_t71 = (u8)(r_t68 & r_t70); /* @160:19 */
    }
    {
    if (r_t71) goto L_bb24; else goto L_bb25; /* @160:19 */
    }
L_bb25: ;
    {
    r_flow_saddr62 = 0U; /* @160:19 */
    }
    {
    r_flow_daddr63 = 0U; /* @160:19 */
    }
    {
    r_flow_sport64 = 0U; /* @160:19 */
    }
    {
    r_flow_dport65 = 0U; /* @160:19 */
    }
    {
    r_flow_proto66 = 0U; /* @160:19 */
    }
    {
    goto L_bb23; /* @160:19 */
    }
L_bb24: ;
    {
    r_flow_saddr62 = 0; /* @160:19 */
    if (v_ipv4) {
        r_flow_saddr62 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @160:19 */
    }
    }
    {
    r_flow_daddr63 = 0; /* @160:19 */
    if (v_ipv4) {
        r_flow_daddr63 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 16)))); /* @160:19 */
    }
    }
    {
    r_flow_proto66 = 0; /* @160:19 */
    if (v_ipv4) {
        r_flow_proto66 = (u8)(((u64)(*(u8 *)(h_ipv4 + 9)))); /* @160:19 */
    }
    }
    {
    if (r_t67) goto L_bb21; else goto L_bb22; /* @160:19 */
    }
L_bb22: ;
    {
    r_flow_sport64 = 0; /* @160:19 */
    if (v_udp) {
        r_flow_sport64 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_udp + 0)))); /* @160:19 */
    }
    }
    {
    r_flow_dport65 = 0; /* @160:19 */
    if (v_udp) {
        r_flow_dport65 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_udp + 2)))); /* @160:19 */
    }
    }
    {
    goto L_bb23; /* @160:19 */
    }
L_bb21: ;
    {
    r_flow_sport64 = 0; /* @160:19 */
    if (v_tcp) {
        r_flow_sport64 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_tcp + 0)))); /* @160:19 */
    }
    }
    {
    r_flow_dport65 = 0; /* @160:19 */
    if (v_tcp) {
        r_flow_dport65 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_tcp + 2)))); /* @160:19 */
    }
    }
    {
    goto L_bb23; /* @160:19 */
    }
L_bb23: ;
    {
    r_k_72 = r_flow_saddr62; /* @160:5 */
    }
    {
    r_k_73 = r_flow_daddr63; /* @160:5 */
    }
    {
    r_k_74 = r_flow_sport64; /* @160:5 */
    }
    {
    r_k_75 = r_flow_dport65; /* @160:5 */
    }
    {
    r_k_76 = r_flow_proto66; /* @160:5 */
    }
    {
    if (r_echo_54) goto L_bb26; else goto L_bb28; /* @161:9 */
    }
L_bb26: ;
    {
    r_t77 = 0; /* @162:27 */
    if (v_ipv4) {
        r_t77 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 12)))); /* @162:27 */
    }
    }
    {
    r_t78 = 0; /* @162:46 */
    if (v_ipv4) {
        r_t78 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 16)))); /* @162:46 */
    }
    }
    {
    r_t79 = 0; /* @162:65 */
    if (v_icmp) {
        r_t79 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_icmp + 4)))); /* @162:65 */
    }
    }
    {
    r_t80 = 0; /* @162:81 */
    if (v_icmp) {
        r_t80 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_icmp + 4)))); /* @162:81 */
    }
    }
    {
    r_t82 = r_t77; /* @162:9 */
    }
    {
    r_t83 = r_t78; /* @162:9 */
    }
    {
    r_t84 = r_t79; /* @162:9 */
    }
    {
    r_t85 = r_t80; /* @162:9 */
    }
    {
    r_k_72 = r_t82; /* @162:9 */
    }
    {
    r_k_73 = r_t83; /* @162:9 */
    }
    {
    r_k_74 = r_t84; /* @162:9 */
    }
    {
    r_k_75 = r_t85; /* @162:9 */
    }
    {
    r_k_76 = 1U; /* @162:9 */
    }
    {
    goto L_bb28; /* @161:5 */
    }
L_bb28: ;
    {
    r_conn_87 = r_k_72; /* @168:5 */
    }
    {
    r_conn_88 = r_k_73; /* @168:5 */
    }
    {
    r_conn_89 = r_k_74; /* @168:5 */
    }
    {
    r_conn_90 = r_k_75; /* @168:5 */
    }
    {
    r_conn_91 = r_k_76; /* @168:5 */
    }
    {
    r_from_orig_93 = 1U; /* @169:5 */
    }
    {
    r_found_95 = 0U; /* @170:5 */
    }
    {
    r_t96 = (u8)(r_ports_52 | r_echo_54); /* @171:9 */
    }
    {
    if (r_t96) goto L_bb29; else goto L_bb60; /* @171:9 */
    }
L_bb29: ;
    {
    r_k_97 = r_k_72; /* @172:17 */
    }
    {
    r_k_98 = r_k_73; /* @172:17 */
    }
    {
    r_k_99 = r_k_74; /* @172:17 */
    }
    {
    r_k_100 = r_k_75; /* @172:17 */
    }
    {
    r_k_101 = r_k_76; /* @172:17 */
    }
    {
    r_ret102 = r_k_98; /* @87:5 */
    }
    {
    r_ret103 = r_k_97; /* @87:5 */
    }
    {
    r_ret104 = r_k_100; /* @87:5 */
    }
    {
    r_ret105 = r_k_99; /* @87:5 */
    }
    {
    r_ret106 = r_k_101; /* @87:5 */
    }
    {
    r_r_107 = r_ret102; /* @172:9 */
    }
    {
    r_r_108 = r_ret103; /* @172:9 */
    }
    {
    r_r_109 = r_ret104; /* @172:9 */
    }
    {
    r_r_110 = r_ret105; /* @172:9 */
    }
    {
    r_r_111 = r_ret106; /* @172:9 */
    }
    {
    r_k_112 = r_r_107; /* @173:13 */
    }
    {
    r_k_113 = r_r_108; /* @173:13 */
    }
    {
    r_k_114 = r_r_109; /* @173:13 */
    }
    {
    r_k_115 = r_r_110; /* @173:13 */
    }
    {
    r_k_116 = r_r_111; /* @173:13 */
    }
    {
    r_t_117 = r_t_42; /* @173:13 */
    }
    {
    struct conns_key _t2; __builtin_memset(&_t2, 0, sizeof(_t2)); /* @100:11 */
    _t2.f_saddr = r_k_112;
    _t2.f_daddr = r_k_113;
    _t2.f_sport = r_k_114;
    _t2.f_dport = r_k_115;
    _t2.f_proto = r_k_116;
    r_h119 = conns.lookup(&_t2);
    }
    {
    r_t120 = r_h119 != NULL; /* @100:11 */
    }
    {
    if (r_t120) goto L_bb36; else goto L_bb35; /* @100:11 */
    }
L_bb35: ;
    {
    r_ret118 = 0U; /* @100:26 */
    }
    {
    goto L_bb34; /* @100:26 */
    }
L_bb36: ;
    {
    r_h122 = r_h119; /* @101:13 */
    }
    {
    r_t123 = r_h122 ? r_h122->f_last_ns : 0; /* @101:13 */
    }
    {
    r_t124 = r_h122 ? r_h122->f_fin : 0; /* @101:13 */
    }
    {
    r_c_125 = r_t123; /* @101:5 */
    }
    {
    r_c_126 = r_t124; /* @101:5 */
    }
    {
    r_t127 = r_t_117 > r_c_125; /* @102:9 */
    }
    {
    if (r_t127) goto L_bb39; else goto L_bb38; /* @102:9 */
    }
L_bb39: ;
    {
    r_t128 = (u64)(r_t_117 - r_c_125); /* @102:26 */
    }
    {
    r_proto_129 = r_k_116; /* @102:42 */
    }
    {
    r_fin_130 = r_c_126; /* @102:42 */
    }
    {
    r_t132 = 6U; /* @91:18 */
    }
    {
    r_t133 = r_proto_129 == r_t132; /* @91:9 */
    }
    {
    if (r_t133) goto L_bb41; else goto L_bb42; /* @91:9 */
    }
L_bb42: ;
    {
    r_ret131 = 0x6fc23ac00ULL; /* @95:5 */
    }
    {
    goto L_bb40; /* @95:5 */
    }
L_bb41: ;
    {
    r_t136 = 3U; /* @92:21 */
    }
    {
    r_t137 = r_fin_130 == r_t136; /* @92:13 */
    }
    {
    if (r_t137) goto L_bb43; else goto L_bb44; /* @92:13 */
    }
L_bb44: ;
    {
    r_ret131 = 0x45d964b800ULL; /* @93:9 */
    }
    {
    goto L_bb40; /* @93:9 */
    }
L_bb43: ;
    {
    r_ret131 = 0x2540be400ULL; /* @92:46 */
    }
    {
    goto L_bb40; /* @92:46 */
    }
L_bb40: ;
    {
    r_t141 = r_t128 > r_ret131; /* @102:26 */
    }
    {
    if (r_t141) goto L_bb37; else goto L_bb38; /* @102:26 */
    }
L_bb38: ;
    {
    r_ret118 = 1U; /* @106:5 */
    }
    {
    goto L_bb34; /* @106:5 */
    }
L_bb37: ;
    {
    struct conns_key _t3; __builtin_memset(&_t3, 0, sizeof(_t3)); /* @103:9 */
    _t3.f_saddr = r_k_112;
    _t3.f_daddr = r_k_113;
    _t3.f_sport = r_k_114;
    _t3.f_dport = r_k_115;
    _t3.f_proto = r_k_116;
    conns.delete(&_t3);
    }
    {
    r_ret118 = 0U; /* @104:9 */
    }
    {
    goto L_bb34; /* @104:9 */
    }
L_bb34: ;
    {
    if (r_ret118) goto L_bb32; else goto L_bb33; /* @173:13 */
    }
L_bb33: ;
    {
    r_k_151 = r_k_72; /* @177:20 */
    }
    {
    r_k_152 = r_k_73; /* @177:20 */
    }
    {
    r_k_153 = r_k_74; /* @177:20 */
    }
    {
    r_k_154 = r_k_75; /* @177:20 */
    }
    {
    r_k_155 = r_k_76; /* @177:20 */
    }
    {
    r_t_156 = r_t_42; /* @177:20 */
    }
    {
    struct conns_key _t4; __builtin_memset(&_t4, 0, sizeof(_t4)); /* @100:11 */
    _t4.f_saddr = r_k_151;
    _t4.f_daddr = r_k_152;
    _t4.f_sport = r_k_153;
    _t4.f_dport = r_k_154;
    _t4.f_proto = r_k_155;
    r_h158 = conns.lookup(&_t4);
    }
    {
    r_t159 = r_h158 != NULL; /* @100:11 */
    }
    {
    if (r_t159) goto L_bb49; else goto L_bb48; /* @100:11 */
    }
L_bb48: ;
    {
    r_ret157 = 0U; /* @100:26 */
    }
    {
    goto L_bb47; /* @100:26 */
    }
L_bb49: ;
    {
    r_h161 = r_h158; /* @101:13 */
    }
    {
    r_t162 = r_h161 ? r_h161->f_last_ns : 0; /* @101:13 */
    }
    {
    r_t163 = r_h161 ? r_h161->f_fin : 0; /* @101:13 */
    }
    {
    r_c_164 = r_t162; /* @101:5 */
    }
    {
    r_c_165 = r_t163; /* @101:5 */
    }
    {
    r_t166 = r_t_156 > r_c_164; /* @102:9 */
    }
    {
    if (r_t166) goto L_bb52; else goto L_bb51; /* @102:9 */
    }
L_bb52: ;
    {
    r_t167 = (u64)(r_t_156 - r_c_164); /* @102:26 */
    }
    {
    r_proto_168 = r_k_155; /* @102:42 */
    }
    {
    r_fin_169 = r_c_165; /* @102:42 */
    }
    {
    r_t171 = 6U; /* @91:18 */
    }
    {
    r_t172 = r_proto_168 == r_t171; /* @91:9 */
    }
    {
    if (r_t172) goto L_bb54; else goto L_bb55; /* @91:9 */
    }
L_bb55: ;
    {
    r_ret170 = 0x6fc23ac00ULL; /* @95:5 */
    }
    {
    goto L_bb53; /* @95:5 */
    }
L_bb54: ;
    {
    r_t175 = 3U; /* @92:21 */
    }
    {
    r_t176 = r_fin_169 == r_t175; /* @92:13 */
    }
    {
    if (r_t176) goto L_bb56; else goto L_bb57; /* @92:13 */
    }
L_bb57: ;
    {
    r_ret170 = 0x45d964b800ULL; /* @93:9 */
    }
    {
    goto L_bb53; /* @93:9 */
    }
L_bb56: ;
    {
    r_ret170 = 0x2540be400ULL; /* @92:46 */
    }
    {
    goto L_bb53; /* @92:46 */
    }
L_bb53: ;
    {
    r_t180 = r_t167 > r_ret170; /* @102:26 */
    }
    {
    if (r_t180) goto L_bb50; else goto L_bb51; /* @102:26 */
    }
L_bb51: ;
    {
    r_ret157 = 1U; /* @106:5 */
    }
    {
    goto L_bb47; /* @106:5 */
    }
L_bb50: ;
    {
    struct conns_key _t5; __builtin_memset(&_t5, 0, sizeof(_t5)); /* @103:9 */
    _t5.f_saddr = r_k_151;
    _t5.f_daddr = r_k_152;
    _t5.f_sport = r_k_153;
    _t5.f_dport = r_k_154;
    _t5.f_proto = r_k_155;
    conns.delete(&_t5);
    }
    {
    r_ret157 = 0U; /* @104:9 */
    }
    {
    goto L_bb47; /* @104:9 */
    }
L_bb47: ;
    {
    if (r_ret157) goto L_bb45; else goto L_bb60; /* @177:20 */
    }
L_bb45: ;
    {
    r_found_95 = 1U; /* @178:13 */
    }
    {
    goto L_bb60; /* @177:16 */
    }
L_bb32: ;
    {
    r_t144 = r_r_107; /* @174:13 */
    }
    {
    r_t145 = r_r_108; /* @174:13 */
    }
    {
    r_t146 = r_r_109; /* @174:13 */
    }
    {
    r_t147 = r_r_110; /* @174:13 */
    }
    {
    r_t148 = r_r_111; /* @174:13 */
    }
    {
    r_conn_87 = r_t144; /* @174:13 */
    }
    {
    r_conn_88 = r_t145; /* @174:13 */
    }
    {
    r_conn_89 = r_t146; /* @174:13 */
    }
    {
    r_conn_90 = r_t147; /* @174:13 */
    }
    {
    r_conn_91 = r_t148; /* @174:13 */
    }
    {
    r_from_orig_93 = 0U; /* @175:13 */
    }
    {
    r_found_95 = 1U; /* @176:13 */
    }
    {
    goto L_bb60; /* @173:9 */
    }
L_bb60: ;
    {
    if (r_found_95) goto L_bb101; else goto L_bb61; /* @182:10 */
    }
L_bb61: ;
    {
    if (r_inside_48) goto L_bb63; else goto L_bb64; /* @183:13 */
    }
L_bb64: ;
    {
    r_t185 = 0; /* @188:17 */
    if (v_ipv4) {
        r_t185 = (u16)((((u64)bpf_ntohs(*(u16 *)(h_ipv4 + 6)))) & 8191U); /* @188:17 */
    }
    }
    {
    r_t186 = 0U; /* @188:37 */
    }
    {
    r_t187 = r_t185 != r_t186; /* @188:17 */
    }
    {
    if (r_t187) goto L_bb67; else goto L_bb68; /* @188:17 */
    }
L_bb68: ;
    {
    r_t194 = v_icmp; /* @190:17 */
    }
    {
    if (r_t194) goto L_bb70; else goto L_bb71; /* @190:17 */
    }
L_bb71: ;
    {
    if (r_ports_52) goto L_bb81; else goto L_bb80; /* @201:18 */
    }
L_bb80: ;
    {
    r_reason_221 = 3U; /* @201:27 */
    }
    {
    r_t222 = 0x1ULL; /* @81:22 */
    }
    {
    u32 _t6 = r_reason_221; /* @81:5 */
    r_h223 = drops.lookup(&_t6);
    }
    {
    r_t224 = r_h223 ? r_h223->f_value : 0; /* @81:5 */
    }
    {
    r_t225 = (u64)(r_t224 + r_t222); /* @81:5 */
    }
    {
    if (r_h223) r_h223->f_value = r_t225; /* @81:5 */
    }
    {
    return 2; /* drop */ /* @82:5 */
    }
L_bb81: ;
    {
    r_t226 = 0; /* @203:19 */
    if (v_ipv4) {
        r_t226 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 16)))); /* @203:19 */
    }
    }
    {
    r_t227 = 4294967040U; /* @203:19 */
    }
    {
    r_t228 = (u32)(r_t226 & r_t227); /* @203:19 */
    }
    {
    r_t229 = 168493312U; /* @203:19 */
    }
    {
    r_t230 = r_t228 == r_t229; /* @203:19 */
    }
    {
    if (r_t230) goto L_bb84; else goto L_bb83; /* @203:19 */
    }
L_bb83: ;
    {
    r_reason_232 = 4U; /* @203:44 */
    }
    {
    r_t233 = 0x1ULL; /* @81:22 */
    }
    {
    u32 _t7 = r_reason_232; /* @81:5 */
    r_h234 = drops.lookup(&_t7);
    }
    {
    r_t235 = r_h234 ? r_h234->f_value : 0; /* @81:5 */
    }
    {
    r_t236 = (u64)(r_t235 + r_t233); /* @81:5 */
    }
    {
    if (r_h234) r_h234->f_value = r_t236; /* @81:5 */
    }
    {
    return 2; /* drop */ /* @82:5 */
    }
L_bb84: ;
    {
    r_t242 = v_tcp; /* @204:31 */
    }
    {
    r_t243 = v_ipv4; /* @204:31 */
    }
    {
    r_t244 = v_udp; /* @204:31 */
    }
    {
    r_t245 = (u8)(r_t242 | r_t244); /* @204:31 */
    }
    {
    r_t246 = (u8)(r_t243 & r_t245); /* @204:31 */
    }
    {
    if (r_t246) goto L_bb91; else goto L_bb92; /* @204:31 */
    }
L_bb92: ;
    {
    r_flow_dport240 = 0U; /* @204:31 */
    }
    {
    goto L_bb90; /* @204:31 */
    }
L_bb91: ;
    {
    if (r_t242) goto L_bb88; else goto L_bb89; /* @204:31 */
    }
L_bb89: ;
    {
    r_flow_dport240 = 0; /* @204:31 */
    if (v_udp) {
        r_flow_dport240 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_udp + 2)))); /* @204:31 */
    }
    }
    {
    goto L_bb90; /* @204:31 */
    }
L_bb88: ;
    {
    r_flow_dport240 = 0; /* @204:31 */
    if (v_tcp) {
        r_flow_dport240 = (u16)(((u64)bpf_ntohs(*(u16 *)(h_tcp + 2)))); /* @204:31 */
    }
    }
    {
    goto L_bb90; /* @204:31 */
    }
L_bb90: ;
    {
    r_port_247 = r_flow_dport240; /* @204:18 */
    }
    {
    r_t249 = 22U; /* @129:9 */
    }
    {
    r_t250 = r_port_247 == r_t249; /* @129:9 */
    }
    {
    r_t251 = 80U; /* @129:9 */
    }
    {
    r_t252 = r_port_247 == r_t251; /* @129:9 */
    }
    {
    r_t253 = (u8)(r_t250 | r_t252); /* @129:9 */
    }
    {
    r_t254 = 443U; /* @129:9 */
    }
    {
    r_t255 = r_port_247 == r_t254; /* @129:9 */
    }
    {
    r_t256 = (u8)(r_t253 | r_t255); /* @129:9 */
    }
    {
    if (r_t256) goto L_bb94; else goto L_bb95; /* @129:9 */
    }
L_bb95: ;
    {
    r_ret248 = 0U; /* @130:16 */
    }
    {
    goto L_bb93; /* @130:16 */
    }
L_bb94: ;
    {
    r_ret248 = 1U; /* @129:28 */
    }
    {
    goto L_bb93; /* @129:28 */
    }
L_bb93: ;
    {
    if (r_ret248) goto L_bb87; else goto L_bb86; /* @204:18 */
    }
L_bb86: ;
    {
    r_reason_260 = 5U; /* @204:46 */
    }
    {
    r_t261 = 0x1ULL; /* @81:22 */
    }
    {
    u32 _t8 = r_reason_260; /* @81:5 */
    r_h262 = drops.lookup(&_t8);
    }
    {
    r_t263 = r_h262 ? r_h262->f_value : 0; /* @81:5 */
    }
    {
    r_t264 = (u64)(r_t263 + r_t261); /* @81:5 */
    }
    {
    if (r_h262) r_h262->f_value = r_t264; /* @81:5 */
    }
    {
    return 2; /* drop */ /* @82:5 */
    }
L_bb87: ;
    {
    r_t265 = v_tcp; /* @205:17 */
    }
    {
    r_t266 = 0; /* @205:31 */
    if (v_tcp) {
        r_t266 = (u8)(((u64)(*(u8 *)(h_tcp + 13)))); /* @205:31 */
    }
    }
    {
    r_t273 = 23U; /* @205:44 */
    }
    {
    r_t274 = (u8)(r_t266 & r_t273); /* @205:31 */
    }
    {
    r_t275 = 2U; /* @205:87 */
    }
    {
    r_t276 = r_t274 != r_t275; /* @205:30 */
    }
    {
    r_t277 = (u8)(r_t265 & r_t276); /* @205:17 */
    }
    {
    if (r_t277) goto L_bb97; else goto L_bb101; /* @205:17 */
    }
L_bb97: ;
    {
    r_reason_279 = 6U; /* @206:17 */
    }
    {
    r_t280 = 0x1ULL; /* @81:22 */
    }
    {
    u32 _t9 = r_reason_279; /* @81:5 */
    r_h281 = drops.lookup(&_t9);
    }
    {
    r_t282 = r_h281 ? r_h281->f_value : 0; /* @81:5 */
    }
    {
    r_t283 = (u64)(r_t282 + r_t280); /* @81:5 */
    }
    {
    if (r_h281) r_h281->f_value = r_t283; /* @81:5 */
    }
    {
    return 2; /* drop */ /* @82:5 */
    }
L_bb70: ;
    {
    r_t195 = 0; /* @191:24 */
    if (v_icmp) {
        r_t195 = (u8)(((u64)(*(u8 *)(h_icmp + 0)))); /* @191:24 */
    }
    }
    {
    r_t196 = 8U; /* @192:21 */
    }
    {
    r_t197 = r_t195 == r_t196; /* @192:21 */
    }
    {
    if (r_t197) goto L_bb72; else goto L_bb73; /* @192:21 */
    }
L_bb73: ;
    {
    r_t209 = 3U; /* @196:21 */
    }
    {
    r_t210 = r_t195 == r_t209; /* @196:21 */
    }
    {
    r_t211 = 11U; /* @196:21 */
    }
    {
    r_t212 = r_t195 == r_t211; /* @196:21 */
    }
    {
    r_t213 = (u8)(r_t210 | r_t212); /* @196:21 */
    }
    {
    if (r_t213) goto L_bb77; else goto L_bb78; /* @196:21 */
    }
L_bb78: ;
    {
    r_reason_215 = 2U; /* @197:28 */
    }
    {
    r_t216 = 0x1ULL; /* @81:22 */
    }
    {
    u32 _t10 = r_reason_215; /* @81:5 */
    r_h217 = drops.lookup(&_t10);
    }
    {
    r_t218 = r_h217 ? r_h217->f_value : 0; /* @81:5 */
    }
    {
    r_t219 = (u64)(r_t218 + r_t216); /* @81:5 */
    }
    {
    if (r_h217) r_h217->f_value = r_t219; /* @81:5 */
    }
    {
    return 2; /* drop */ /* @82:5 */
    }
L_bb77: ;
    {
    return 0; /* pass */ /* @196:65 */
    }
L_bb72: ;
    {
    r_t198 = 0; /* @193:29 */
    if (v_ipv4) {
        r_t198 = (u32)(((u64)bpf_ntohl(*(u32 *)(h_ipv4 + 16)))); /* @193:29 */
    }
    }
    {
    r_t199 = 4294967040U; /* @193:29 */
    }
    {
    r_t200 = (u32)(r_t198 & r_t199); /* @193:29 */
    }
    {
    r_t201 = 168493312U; /* @193:29 */
    }
    {
    r_t202 = r_t200 == r_t201; /* @193:29 */
    }
    {
    if (r_t202) goto L_bb74; else goto L_bb75; /* @193:29 */
    }
L_bb75: ;
    {
    r_reason_204 = 4U; /* @194:25 */
    }
    {
    r_t205 = 0x1ULL; /* @81:22 */
    }
    {
    u32 _t11 = r_reason_204; /* @81:5 */
    r_h206 = drops.lookup(&_t11);
    }
    {
    r_t207 = r_h206 ? r_h206->f_value : 0; /* @81:5 */
    }
    {
    r_t208 = (u64)(r_t207 + r_t205); /* @81:5 */
    }
    {
    if (r_h206) r_h206->f_value = r_t208; /* @81:5 */
    }
    {
    return 2; /* drop */ /* @82:5 */
    }
L_bb74: ;
    {
    return 0; /* pass */ /* @193:53 */
    }
L_bb67: ;
    {
    r_reason_189 = 1U; /* @188:42 */
    }
    {
    r_t190 = 0x1ULL; /* @81:22 */
    }
    {
    u32 _t12 = r_reason_189; /* @81:5 */
    r_h191 = drops.lookup(&_t12);
    }
    {
    r_t192 = r_h191 ? r_h191->f_value : 0; /* @81:5 */
    }
    {
    r_t193 = (u64)(r_t192 + r_t190); /* @81:5 */
    }
    {
    if (r_h191) r_h191->f_value = r_t193; /* @81:5 */
    }
    {
    return 2; /* drop */ /* @82:5 */
    }
L_bb63: ;
    {
    r_t184 = (u8)(r_ports_52 | r_echo_54); /* @185:19 */
    }
    {
    if (r_t184) goto L_bb101; else goto L_bb65; /* @185:19 */
    }
L_bb65: ;
    {
    return 0; /* pass */ /* @185:37 */
    }
L_bb101: ;
    {
    r_k_284 = r_conn_87; /* @211:5 */
    }
    {
    r_k_285 = r_conn_88; /* @211:5 */
    }
    {
    r_k_286 = r_conn_89; /* @211:5 */
    }
    {
    r_k_287 = r_conn_90; /* @211:5 */
    }
    {
    r_k_288 = r_conn_91; /* @211:5 */
    }
    {
    r_t_289 = r_t_42; /* @211:5 */
    }
    {
    r_from_orig_290 = r_from_orig_93; /* @211:5 */
    }
    {
    struct conns_key _t13; __builtin_memset(&_t13, 0, sizeof(_t13)); /* @113:15 */
    _t13.f_saddr = r_k_284;
    _t13.f_daddr = r_k_285;
    _t13.f_sport = r_k_286;
    _t13.f_dport = r_k_287;
    _t13.f_proto = r_k_288;
    r_h291 = conns.lookup(&_t13);
    }
    {
    r_t292 = r_h291 ? r_h291->f_fin : 0; /* @113:15 */
    }
    {
    r_fin_293 = r_t292; /* @113:5 */
    }
    {
    r_t294 = v_tcp; /* @114:9 */
    }
    {
    if (r_t294) goto L_bb103; else goto L_bb116; /* @114:9 */
    }
L_bb103: ;
    {
    r_t295 = 0; /* @115:14 */
    if (v_tcp) {
        r_t295 = (u8)(((u64)(*(u8 *)(h_tcp + 13)))); /* @115:14 */
    }
    }
    {
    r_t296 = 4U; /* @115:26 */
    }
    {
    r_t297 = (u8)(r_t295 & r_t296); /* @115:14 */
    }
    {
    r_t298 = 0U; /* @115:38 */
    }
    {
    r_t299 = r_t297 != r_t298; /* @115:13 */
    }
    {
    if (r_t299) goto L_bb105; else goto L_bb106; /* @115:13 */
    }
L_bb106: ;
    {
    r_t300 = 0; /* @119:27 */
    if (v_tcp) {
        r_t300 = (u8)(((u64)(*(u8 *)(h_tcp + 13)))); /* @119:27 */
    }
    }
    {
    r_t303 = 18U; /* @119:40 */
    }
    {
    r_t304 = (u8)(r_t300 & r_t303); /* @119:27 */
    }
    {
    r_t305 = 2U; /* @119:63 */
    }
    {
    r_t306 = r_t304 == r_t305; /* @119:26 */
    }
    {
    r_t307 = (u8)(r_from_orig_290 & r_t306); /* @119:13 */
    }
    {
    if (r_t307) goto L_bb107; else goto L_bb109; /* @119:13 */
    }
L_bb107: ;
    {
    r_fin_293 = 0U; /* @119:74 */
    }
    {
    goto L_bb109; /* @119:9 */
    }
L_bb109: ;
    {
    r_t309 = 0; /* @120:14 */
    if (v_tcp) {
        r_t309 = (u8)(((u64)(*(u8 *)(h_tcp + 13)))); /* @120:14 */
    }
    }
    {
    r_t310 = 1U; /* @120:26 */
    }
    {
    r_t311 = (u8)(r_t309 & r_t310); /* @120:14 */
    }
    {
    r_t312 = 0U; /* @120:38 */
    }
    {
    r_t313 = r_t311 != r_t312; /* @120:13 */
    }
    {
    if (r_t313) goto L_bb110; else goto L_bb116; /* @120:13 */
    }
L_bb110: ;
    {
    if (r_from_orig_290) goto L_bb112; else goto L_bb113; /* @121:17 */
    }
L_bb113: ;
    {
    r_t316 = 2U; /* @121:73 */
    }
    {
    r_t317 = (u8)(r_fin_293 | r_t316); /* @121:67 */
    }
    {
    r_fin_293 = r_t317; /* @121:61 */
    }
    {
    goto L_bb116; /* @121:13 */
    }
L_bb112: ;
    {
    r_t314 = 1U; /* @121:42 */
    }
    {
    r_t315 = (u8)(r_fin_293 | r_t314); /* @121:36 */
    }
    {
    r_fin_293 = r_t315; /* @121:30 */
    }
    {
    goto L_bb116; /* @121:13 */
    }
L_bb116: ;
    {
    r_found0 = r_h291 != NULL; /* @124:5 */
    }
    {
    if (r_found0) goto L_inplace0; else goto L_update0; /* @124:5 */
    }
L_update0: ;
    {
    struct conns_key _t14; __builtin_memset(&_t14, 0, sizeof(_t14)); /* @124:5 */
    _t14.f_saddr = r_k_284;
    _t14.f_daddr = r_k_285;
    _t14.f_sport = r_k_286;
    _t14.f_dport = r_k_287;
    _t14.f_proto = r_k_288;
    struct conns_value _t15; __builtin_memset(&_t15, 0, sizeof(_t15));
    _t15.f_last_ns = r_t_289;
    _t15.f_fin = r_fin_293;
    r_t318 = conns.update(&_t14, &_t15) == 0;
    }
    {
    goto L_bb102; /* @124:5 */
    }
L_inplace0: ;
    {
    if (r_h291) r_h291->f_last_ns = r_t_289; /* @124:5 */
    }
    {
    if (r_h291) r_h291->f_fin = r_fin_293; /* @124:5 */
    }
    {
    goto L_bb102; /* @124:5 */
    }
L_bb105: ;
    {
    struct conns_key _t16; __builtin_memset(&_t16, 0, sizeof(_t16)); /* @116:13 */
    _t16.f_saddr = r_k_284;
    _t16.f_daddr = r_k_285;
    _t16.f_sport = r_k_286;
    _t16.f_dport = r_k_287;
    _t16.f_proto = r_k_288;
    conns.delete(&_t16);
    }
    {
    goto L_bb102; /* @117:13 */
    }
L_bb102: ;
    {
    return 0; /* pass */ /* @212:5 */
    }
L_bb11: ;
    {
    r_reason_36 = 0U; /* @146:13 */
    }
    {
    r_t37 = 0x1ULL; /* @81:22 */
    }
    {
    u32 _t17 = r_reason_36; /* @81:5 */
    r_h38 = drops.lookup(&_t17);
    }
    {
    r_t39 = r_h38 ? r_h38->f_value : 0; /* @81:5 */
    }
    {
    r_t40 = (u64)(r_t39 + r_t37); /* @81:5 */
    }
    {
    if (r_h38) r_h38->f_value = r_t40; /* @81:5 */
    }
    {
    return 2; /* drop */ /* @82:5 */
    }
L_bb4: ;
    {
    return 0; /* pass */ /* @138:33 */
    }
}
