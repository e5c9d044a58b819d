// expect: reject
// Nine arrays of 16 M u64 (1.125 GiB): state over the 1 GiB limit.
state a0: array<u64>[16777216];
state a1: array<u64>[16777216];
state a2: array<u64>[16777216];
state a3: array<u64>[16777216];
state a4: array<u64>[16777216];
state a5: array<u64>[16777216];
state a6: array<u64>[16777216];
state a7: array<u64>[16777216];
state a8: array<u64>[16777216];
on packet {
    a0[0] += 1;
    pass;
}
