// ratelimit.nf: a token-bucket policer per IPv4 source address.
//
// What it does
//   Every IPv4 source address has a bucket of at most BURST_BYTES tokens (1 token = 1 byte),
//   refilled at RATE_BYTES_PER_S from the time of its last packet (now()). A frame costs
//   pkt.len tokens (the whole frame, Ethernet header included): if the bucket holds that many
//   the tokens are taken and the frame passes, otherwise the frame is dropped and the bucket
//   keeps its tokens (a colour-blind single-rate policer with one bucket). A source seen for
//   the first time starts with a full bucket. Non-IPv4 frames pass unpoliced.
//
// Constants
//   RATE_BYTES_PER_S = 125,000 (1 Mbit/s per source) and BURST_BYTES = 15,000 (ten full-size
//   1,500-byte frames). Tokens are kept in nano-bytes (bytes * 1e9) so that refill by elapsed
//   nanoseconds is exact integer arithmetic: refill = elapsed_ns * RATE_BYTES_PER_S. The
//   elapsed time is capped at the time to fill an empty bucket (FILL_NS) before multiplying, so
//   nothing overflows u64; a clock that goes backwards refills nothing.
//
// State
//   buckets: lru_map<ip4, Bucket>[65536]: source -> (tokens in nano-bytes, time of the last
//     refill in ns); when full, the least recently used source is forgotten (it comes back with
//     a full bucket).
//   stats: percpu_array<u64>[2]: [0] frames passed, [1] frames dropped (IPv4 only).

const RATE_BYTES_PER_S: u64 = 125_000;
const BURST_BYTES: u64 = 15_000;
const NS_PER_S: u64 = 1_000_000_000;
const BURST_NANOBYTES: u64 = BURST_BYTES * NS_PER_S;
const FILL_NS: u64 = BURST_NANOBYTES / RATE_BYTES_PER_S;

const STAT_PASSED: u32 = 0;
const STAT_DROPPED: u32 = 1;

struct Bucket { tokens: u64, last_ns: u64 }

state buckets: lru_map<ip4, Bucket>[65536] on_full evict;
state stats: percpu_array<u64>[2];

on packet {
    if (!ipv4.valid) { pass; }
    let src = ipv4.saddr;
    let t = now();

    let tokens = BURST_NANOBYTES;
    let stamp = t;                 // the bucket's new refill time: never moves backwards
    if (src in buckets) {
        let b = buckets[src];
        tokens = b.tokens;
        if (b.last_ns > t) { stamp = b.last_ns; }
        if (t > b.last_ns) {
            let elapsed_ns = t - b.last_ns;
            if (elapsed_ns > FILL_NS) { elapsed_ns = FILL_NS; }
            tokens += elapsed_ns * RATE_BYTES_PER_S;
            if (tokens > BURST_NANOBYTES) { tokens = BURST_NANOBYTES; }
        }
    }

    let cost = (pkt.len as u64) * NS_PER_S;
    let conforming = tokens >= cost;
    if (conforming) { tokens -= cost; }
    buckets[src] = Bucket { tokens: tokens, last_ns: stamp };
    if (!conforming) {
        stats[STAT_DROPPED] += 1;
        drop;
    }
    stats[STAT_PASSED] += 1;
    pass;
}
