// drop_fraction.nf: drop a settable fraction of IPv4 frames at random (loss injection
// without netem, which this kernel lacks; see docs/ina.md).
//
// What it does
//   Every IPv4 frame is dropped with probability config[CFG_DROP_PER_2_32] / 2^32, decided
//   by one call of rand() (the kernel's prandom when deployed). Frames that are not IPv4
//   (ARP above all) always pass, so neighbour resolution never fails because of the
//   injected loss. With the threshold 0 (the initial value) nothing is dropped.
//
// State
//   config: array<u32>[1]: [0] the drop threshold (fraction x 2^32, rounded down); written
//     by the control plane after `cora deploy` (cora.testbed.ina_topology.set_drop_fraction
//     writes the pinned map).
//   stats: percpu_array<u64>[2]: [0] IPv4 frames passed, [1] IPv4 frames dropped.

const CFG_DROP_PER_2_32: u32 = 0;
const STAT_PASSED: u32 = 0;
const STAT_DROPPED: u32 = 1;

state config: array<u32>[1];
state stats: percpu_array<u64>[2];

on packet {
    if (!ipv4.valid) { pass; }
    if (rand() < config[CFG_DROP_PER_2_32]) {
        stats[STAT_DROPPED] += 1;
        drop;
    }
    stats[STAT_PASSED] += 1;
    pass;
}
