// expect: reject
// 60 nested ifs: over the nesting limit.
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
                                                                                                                            if (pkt.len > 44) {
                                                                                                                                if (pkt.len > 45) {
                                                                                                                                    if (pkt.len > 46) {
                                                                                                                                        if (pkt.len > 47) {
                                                                                                                                            if (pkt.len > 48) {
                                                                                                                                                if (pkt.len > 49) {
                                                                                                                                                    if (pkt.len > 50) {
                                                                                                                                                        if (pkt.len > 51) {
                                                                                                                                                            if (pkt.len > 52) {
                                                                                                                                                                if (pkt.len > 53) {
                                                                                                                                                                    if (pkt.len > 54) {
                                                                                                                                                                        if (pkt.len > 55) {
                                                                                                                                                                            if (pkt.len > 56) {
                                                                                                                                                                                if (pkt.len > 57) {
                                                                                                                                                                                    if (pkt.len > 58) {
                                                                                                                                                                                        if (pkt.len > 59) {
                                                                                                                                                                                            if (pkt.len > 60) {
                                                                                                                                                                                                if (pkt.len > 61) {
                                                                                                                                                                                                    if (pkt.len > 62) {
                                                                                                                                                                                                        if (pkt.len > 63) {
                                                                                                                                                                                                            if (pkt.len > 64) {
                                                                                                                                                                                                                if (pkt.len > 65) {
                                                                                                                                                                                                                    if (pkt.len > 66) {
                                                                                                                                                                                                                        if (pkt.len > 67) {
                                                                                                                                                                                                                            if (pkt.len > 68) {
                                                                                                                                                                                                                                if (pkt.len > 69) {
                                                                                                                                                                                                                                    if (pkt.len > 70) {
                                                                                                                                                                                                                                        if (pkt.len > 71) {
                                                                                                                                                                                                                                            if (pkt.len > 72) {
                                                                                                                                                                                                                                                if (pkt.len > 73) {
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
