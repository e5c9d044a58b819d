// expect: run
// 30 nested ifs.
state deep: array<u64>[1];
on packet {
    if (pkt.len > 14) {
        if (pkt.len > 15) {
            if (pkt.len > 16) {
                if (pkt.len > 17) {
                    if (pkt.len > 18) {
                        if (pkt.len > 19) {
                            if (pkt.len > 20) {
                                if (pkt.len > 21) {
                                    if (pkt.len > 22) {
                                        if (pkt.len > 23) {
                                            if (pkt.len > 24) {
                                                if (pkt.len > 25) {
                                                    if (pkt.len > 26) {
                                                        if (pkt.len > 27) {
                                                            if (pkt.len > 28) {
                                                                if (pkt.len > 29) {
                                                                    if (pkt.len > 30) {
                                                                        if (pkt.len > 31) {
                                                                            if (pkt.len > 32) {
                                                                                if (pkt.len > 33) {
                                                                                    if (pkt.len > 34) {
                                                                                        if (pkt.len > 35) {
                                                                                            if (pkt.len > 36) {
                                                                                                if (pkt.len > 37) {
                                                                                                    if (pkt.len > 38) {
                                                                                                        if (pkt.len > 39) {
                                                                                                            if (pkt.len > 40) {
                                                                                                                if (pkt.len > 41) {
                                                                                                                    if (pkt.len > 42) {
                                                                                                                        if (pkt.len > 43) {
                                                                                                                            deep[0] += 1;
                                                                                                                        }
                                                                                                                    }
                                                                                                                }
                                                                                                            }
                                                                                                        }
                                                                                                    }
                                                                                                }
                                                                                            }
                                                                                        }
                                                                                    }
                                                                                }
                                                                            }
                                                                        }
                                                                    }
                                                                }
                                                            }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    pass;
}
