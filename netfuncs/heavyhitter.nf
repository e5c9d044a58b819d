// heavyhitter.nf: find the IPv4 sources that send the most bytes (heavy hitters).
//
// What it does
//   Every IPv4 frame adds its length (pkt.len, whole frame) to a count-min sketch under its
//   source address (Cormode & Muthukrishnan 2005: 4 rows x 2048 u32 counters; the estimate
//   never undercounts, and overcounts by at most e/2048 of the total bytes with probability
//   at least 1 - e^-4). When a source's estimate reaches THRESHOLD_BYTES it is recorded in
//   the report map `heavy` with its latest estimate and the time it first crossed, and then
//   ACTION applies to its frames:
//     ACTION_REPORT: record only, the frame passes;
//     ACTION_MARK:   the frame passes with DSCP set to 1, the Lower-Effort PHB (RFC 8622),
//                    so queues downstream serve it last (the IPv4 checksum is fixed by the
//                    compiler);
//     ACTION_DROP:   the frame is dropped.
//   Non-IPv4 frames pass untouched. The shipped setting is ACTION_MARK.
//
// State
//   sketch: countmin<4, 2048>: bytes per source since the sketch was last cleared.
//   heavy: map<ip4, Report>[1024]: the report, source -> (estimate in bytes, ns when first
//     over the threshold); when full, new heavy hitters are not recorded (on_full skip) but
//     ACTION still applies to them.
//
// Assumptions
//   Counts are cumulative: the control plane clears `sketch` and `heavy` at the end of each
//   measurement epoch (e.g. every 10 s) for per-epoch heavy hitters. A u32 cell wraps after
//   4 GiB, so epochs must be shorter than that much traffic per cell.

const THRESHOLD_BYTES: u32 = 1_000_000;

const ACTION_REPORT: u8 = 0;
const ACTION_MARK: u8 = 1;
const ACTION_DROP: u8 = 2;
const ACTION: u8 = ACTION_MARK;

const DSCP_LOWER_EFFORT: u8 = 1;

struct Report { bytes: u32, first_ns: u64 }

state sketch: countmin<4, 2048>;
state heavy: map<ip4, Report>[1024] on_full skip;

on packet {
    if (!ipv4.valid) { pass; }
    let src = ipv4.saddr;
    sketch.add(src, pkt.len);
    let estimate = sketch.estimate(src);
    if (estimate < THRESHOLD_BYTES) { pass; }

    if (src in heavy) {
        heavy[src].bytes = estimate;
    } else {
        heavy[src] = Report { bytes: estimate, first_ns: now() };
    }
    if (ACTION == ACTION_DROP) { drop; }
    if (ACTION == ACTION_MARK) { ipv4.dscp = DSCP_LOWER_EFFORT; }
    pass;
}
