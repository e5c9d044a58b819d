// expect: run
// State, struct field, function and local names that are C keywords, kernel types, macros
// and helpers, and names the code generator itself uses: all legal NF names, all mangled.
struct int { NULL: u32, XDP_PASS: u64 }
state s32: map<u32, u64>[16] on_full skip;
state __u64: array<u64>[4];
state size_t: map<u32, u32>[16] on_full skip;
state uint32_t: array<u32>[4];
state NULL: array<u64>[2];
state XDP_PASS: array<u64>[2];
state memcpy: lru_map<u32, u64>[16] on_full evict;
state static: array<u64>[2];
state data_end: array<u64>[2];
state ctx: map<u32, int>[8] on_full skip;
state cora_env: array<u64>[2];
state bpf_map_lookup_elem: array<u64>[2];
state r_x: array<u64>[2];
fn sizeof(char: u32) -> u32 { return char + 1; }
on packet {
    let memset = pkt.len;
    let void = sizeof(memset);
    s32[void] = 2;
    __u64[1] += 1;
    size_t[3] = 4;
    uint32_t[2] += 1;
    NULL[0] += 1;
    XDP_PASS[1] += 1;
    memcpy[5] = 6;
    static[0] += 1;
    data_end[1] += 1;
    ctx[1] = int { NULL: void, XDP_PASS: 7 };
    cora_env[0] += 1;
    bpf_map_lookup_elem[1] += 1;
    r_x[0] += 1;
    pass;
}
