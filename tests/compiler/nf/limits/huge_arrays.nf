// expect: run
// Five arrays of 16 M u64 (640 MiB): only the touched slots cost time in the engines.
state a0: array<u64>[16777216];
state a1: array<u64>[16777216];
state a2: array<u64>[16777216];
state a3: array<u64>[16777216];
state a4: array<u64>[16777216];
on packet {
    let k = pkt.len;
    a0[k] += 1;
    a1[k] += 2;
    a2[k] += 3;
    a3[k] += 4;
    a4[k] += 5;
    pass;
}
