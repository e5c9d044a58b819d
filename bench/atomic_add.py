"""Cost of an eBPF atomic add into a map value vs a plain read-modify-write (host XDP).

``.venv/bin/python bench/atomic_add.py [--repeat R] [--calls C] [--ops N] [--json]`` (root:
loads XDP programs and times them with BPF_PROG_TEST_RUN).

Four XDP programs, loaded like every generated program (:func:`cora.runtime.loader.load_program`)
and timed side by side in one run by :func:`cora.runtime.calibrate.time_program` (minimum over
C calls of R repetitions on a 64-byte frame): a lookup of one array entry followed by 0 or N
updates of its u64 fields, each either ``v->c[i] += x`` (with a compiler barrier, so clang
keeps every load and store) or ``__sync_fetch_and_add(&v->c[i], x)`` (one BPF_ATOMIC add,
what the ``atomic_add`` op emits). ns per update = (time with N - time with 0) / N. The
``opcode_cost_ns.atomic_add`` figure of ``compiler/offload/models/xdp.toml`` quotes this
benchmark. The cache line is never contended (one CPU): the figure is the uncontended cost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys

from cora.compiler.ir import Program
from cora.runtime.calibrate import time_program
from cora.runtime.loader import load_program
from cora.targets import Artifact, get_target


def program_text(n: int, atomic: bool) -> str:
    """C of the test program with ``n`` updates (atomic or plain) of a u64 map value."""
    lines = []
    for i in range(n):
        x = f"(u64)(ctx->data_end - ctx->data) + {i}"
        lines.append(f"__sync_fetch_and_add(&v->c[{i % 4}], {x});" if atomic else
                     f'v->c[{i % 4}] += {x}; asm volatile("" ::: "memory");')
    body = "\n    ".join(lines)
    return f"""
#include <uapi/linux/bpf.h>
struct val {{ u64 c[4]; }};
BPF_ARRAY(cnt, struct val, 1);
int f(struct xdp_md *ctx) {{
    int k = 0;
    struct val *v = cnt.lookup(&k);
    if (!v) return XDP_PASS;
    {body}
    return XDP_PASS;
}}
"""


def measure(n_ops: int, repeat: int, calls: int) -> dict:
    """ns/packet of the four programs and ns per update of each kind."""
    target = get_target("xdp")
    frame = bytes(64)
    ns: dict[str, float] = {}
    for atomic in (False, True):
        for n in (0, n_ops):
            text = program_text(n, atomic)
            with load_program(Artifact("xdp", Program("f"), {"prog.c": text}, "f"),
                              target) as loaded:
                ns[f"{'atomic' if atomic else 'plain'}_{n}"] = time_program(
                    loaded.prog_fd, [frame], repeat, calls)[0]
    per_op = {kind: (ns[f"{kind}_{n_ops}"] - ns[f"{kind}_0"]) / n_ops
              for kind in ("plain", "atomic")}
    return {"ns_per_packet": ns, "ns_per_update": per_op, "ops": n_ops, "repeat": repeat,
            "calls": calls, "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "kernel": platform.release()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20000)
    ap.add_argument("--calls", type=int, default=7)
    ap.add_argument("--ops", type=int, default=32)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = measure(args.ops, args.repeat, args.calls)
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        for kind, v in res["ns_per_update"].items():
            print(f"{kind:7s} {v:6.3f} ns per update of a u64 map value "
                  f"({res['date']}, Linux {res['kernel']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
