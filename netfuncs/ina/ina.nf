// ina.nf: in-network gradient aggregation (SwitchML/ATP-style) on cora's dataplane.
// The protocol is cora.ina.protocol (docs/ina.md): a 20-byte header and K = 256 int32 values
// per UDP datagram to port 47000; the reference aggregator is cora.ina.ps.SlotPool.handle,
// which this NF follows packet for packet (tests/ina/test_ina_nf.py).
//
// Per slot two copies (the shadow bit of the packet picks one), each with a worker bitmap
// (a retransmitted contribution is not added twice), a contribution count, the chunk's
// offset/total and the partial sums; when all N workers have contributed, the packet
// that completes the chunk leaves as the result and the copy is kept for retransmitted
// requests (answered with the result); its use by the next chunk clears the other copy's
// bit for the worker. An int32 sum that overflows sets the OVERFLOW flag of the result
// (the sum wraps, as in ps.py; never silently). A packet with FLAG_OR (the support bitmaps
// of LHC's phase A, cora.ina.lhc) is reduced by bitwise OR instead (never overflows): the
// first contribution fixes the copy's reduction and a later one with the other reduction
// gets ERR_OP_MISMATCH, as in ps.py, so one job runs dense and compressed all-reduces.
//
// Answers: a completed chunk's result, and a size- or op-mismatch error, leave by multicast
// to every port of the group `workers` (the control plane fills it with the worker ports);
// a retransmitted request for a finished chunk gets the shadow copy's result and the other
// errors go back to the sender's port only (tx). Every answer is addressed so that every
// worker accepts the same bytes: Ethernet and IPv4 broadcast (ff:ff:ff:ff:ff:ff,
// 255.255.255.255), from the aggregator's address and port, to the sender's UDP source port
// (the workers of a job bind one fixed result port, cora.ina.worker RESULT_PORT); a worker
// drops answers of other jobs. Kept outside the netfuncs/*.nf library: with K = 256 its
// 256-iteration loops make a ~16,000-instruction program that bcc needs about 280 s to
// compile on this 2-core machine (loaded), too slow for every library-wide test.
const K = 256;
const INA_PORT = 47000;
const PACKET_BYTES = 1044;             // header 20 + 4 * K
const MAGIC = 0xC0A9;
const FLAG_OVERFLOW = 0x01;
const FLAG_RESULT = 0x02;
const FLAG_RETRANSMIT = 0x04;
const FLAG_ERROR = 0x08;
const FLAG_OR = 0x10;
const ERR_UNKNOWN_JOB = 1;
const ERR_BAD_WORKER = 2;
const ERR_SIZE_MISMATCH = 3;
const ERR_BAD_SLOT = 4;
const ERR_OP_MISMATCH = 5;
const MAX_WORKERS = 32;
const POOL_SLOTS = 1024;

header ina after udp.dport == INA_PORT {
    magic: u16, version: u8, flags: u8, job: u16, shadow: u16 (1), slot: u16 (15),
    worker: u8, n_workers: u8, error: u8, reserved: u8, offset: u32, total: u32,
    values: i32[K]
}

// the control plane's allocation of the pool to jobs (cora.ina.ps.SlotPool.allocate)
struct Job { base: u16, slots: u16, n_workers: u8 }
state jobs: map<u16, Job>[64] on_full skip;

// one copy of one slot; pool index 2 * (job base + slot) + shadow bit
struct Copy { bitmap: u32, count: u32, offset: u32, total: u32, overflow: u8, done: u8,
              op_or: u8, sums: i32[K] }
state pool: array<Copy>[2048];         // 2 * POOL_SLOTS
// the switch ports of the workers (cora deploy --group workers=p0,p1,...)
state workers: group[32];

// address the (rewritten) datagram as an answer every worker accepts: broadcast, from the
// aggregator's address and port, to the sender's source port (the job's result port)
fn address_answer() {
    ethernet.src = ethernet.dst;
    ethernet.dst = ff:ff:ff:ff:ff:ff;
    ipv4.saddr = ipv4.daddr;
    ipv4.daddr = 255.255.255.255;
    let port = udp.sport;
    udp.sport = udp.dport;
    udp.dport = port;
}

on packet {
    if (!ipv4.valid || !udp.valid || udp.dport != INA_PORT) { pass; }
    if (!ina.valid) { drop; }           // too short for an INA packet: malformed
    // cora.ina.protocol.parse_header: anything else is malformed (dropped)
    if (udp.len != 8 + PACKET_BYTES || ina.magic != MAGIC || ina.version != 1 ||
        (ina.flags & 0xE0) != 0 || ina.reserved != 0 || ina.n_workers < 1 ||
        ina.n_workers > MAX_WORKERS || ina.worker >= ina.n_workers || ina.total == 0) {
        drop;
    }
    if ((ina.flags & (FLAG_RESULT | FLAG_ERROR)) != 0) { drop; }
    let job = jobs[ina.job];            // all zero when the job has no allocation
    let code: u8 = 0;                   // an ERR_* to send back instead of a result
    if (!(ina.job in jobs)) {
        code = ERR_UNKNOWN_JOB;
    } else if (ina.n_workers != job.n_workers) {
        code = ERR_BAD_WORKER;
    } else if (ina.slot >= job.slots) {
        code = ERR_BAD_SLOT;
    }
    let v = ina.shadow as u32;
    let is_or: u8 = (ina.flags & FLAG_OR) >> 4;   // 1: reduce by OR
    let p = (job.base as u32) + ina.slot;
    let idx = 2 * p + v;
    let answer = false;                 // send the copy's result back
    let to_all = false;                 // ... to every worker (multicast), not the sender
    if (code == 0) {
        let bit: u32 = 1 << ina.worker;
        let other = 2 * p + 1 - v;
        // the slot's other copy still being summed: no worker can start this copy anew, so a
        // complete chunk with the same offset is a late duplicate (cora.ina.ps rule 3)
        let other_busy = false;
        // each copy is updated under its own spin lock, so packets of one chunk handled on
        // several CPUs at once lose no contribution (docs/language.md, "Atomic blocks")
        atomic (pool[other]) {
            other_busy = pool[other].count != 0;
            pool[other].bitmap &= ~bit;
        }
        atomic (pool[idx]) {
            let bitmap = pool[idx].bitmap;
            let count = pool[idx].count;
            let same_chunk = pool[idx].offset == ina.offset && pool[idx].total == ina.total;
            if ((bitmap & bit) == 0) {
                if (count == 0 && pool[idx].done != 0 && same_chunk && other_busy) {
                    answer = true;      // a retransmission after the chunk completed
                } else if (count != 0 && !same_chunk) {
                    code = ERR_SIZE_MISMATCH;
                    to_all = true;
                } else if (count != 0 && pool[idx].op_or != is_or) {
                    code = ERR_OP_MISMATCH;
                    to_all = true;
                } else {
                    // the first contribution starts from 0 (and cannot overflow) and fixes
                    // the copy's reduction
                    let keep: i32 = 0;
                    if (count != 0) { keep = -1; } else {
                        pool[idx].overflow = 0;
                        pool[idx].op_or = is_or;
                    }
                    // s | x == s + x - (s & x) in wrapping arithmetic, so one loop does both
                    // reductions (two loops would double the unrolled code); the overflow
                    // test is add_overflows' (sign of (s ^ r) & (x ^ r)), which is never
                    // set by an OR (r = s | x makes the two terms disjoint)
                    let or_mask: i32 = 0;
                    if (is_or != 0) { or_mask = -1; }
                    for (i in 0..K) {
                        // the flag lives in the slot, not in a local: a value carried
                        // through all K unrolled iterations makes clang spill past the
                        // 512-byte stack
                        let s = pool[idx].sums[i] & keep;
                        let x = ina.values[i];
                        let r = s + x - (s & x & or_mask);
                        if (((s ^ r) & (x ^ r)) < 0) { pool[idx].overflow = 1; }
                        pool[idx].sums[i] = r;
                    }
                    pool[idx].offset = ina.offset;
                    pool[idx].total = ina.total;
                    pool[idx].bitmap = bitmap | bit;
                    if (count + 1 < job.n_workers) {
                        pool[idx].count = count + 1;    // consumed: not complete yet
                        pool[idx].done = 0;
                    } else {
                        pool[idx].count = 0;
                        pool[idx].done = 1;
                        answer = true;
                        to_all = true;  // the chunk is complete: the result to everyone
                    }
                }
            } else if (count == 0 && same_chunk) {
                answer = true;          // a retransmission of a contribution already counted
            }
        }
    }
    // consumed, or a duplicate of a pending contribution
    if (code == 0 && !answer) { drop; }
    // the answer: the result (the copy's sums) or an error (values 0), to every worker or
    // to the sender
    // (an error reads its values from a slot past the pool's end: an array read out of
    // range gives 0, which costs no instruction per value, unlike masking them)
    let from = idx;
    if (code != 0) {
        ina.flags = FLAG_ERROR;
        ina.error = code;
        from = 2 * POOL_SLOTS;
    } else {
        let flags = FLAG_RESULT | (ina.flags & FLAG_RETRANSMIT);
        if (pool[idx].overflow != 0) { flags |= FLAG_OVERFLOW; }
        if (pool[idx].op_or != 0) { flags |= FLAG_OR; }
        ina.flags = flags;
    }
    for (i in 0..K) { ina.values[i] = pool[from].sums[i]; }
    address_answer();
    if (to_all) { multicast(workers); }
    tx;
}
