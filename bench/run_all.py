"""`make bench`: run every benchmark of bench/ in turn and print their figures.

Each script prints its own table and says which figures are measured and which modelled.
Timing figures need a quiet machine: run this alone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# (script, arguments), in the order a reader wants them
BENCHES = [
    ("codegen.py", []),  # generated vs hand-written (bench/refs/), live veth rates
    ("ref_flowcount.py", ["--nf", str(HERE.parent / "netfuncs" / "flowcount.nf")]),
    ("nf_library.py", []),
    ("trafficgen_rate.py", []),
    ("cost_model.py", []),
    ("tc_cost_model.py", []),
    ("partition.py", []),
    ("offload_testbed.py", []),
    ("runtime_swap.py", []),  # hot-swap latency, frames lost over swaps + a migration
    ("certify_speed.py", []),
    ("certify_looseness.py", []),
    ("certify_sim.py", []),
    ("certify_testbed.py", []),
]


def main() -> int:
    """Run each benchmark that exists; returns 1 if any failed."""
    failed = []
    for script, args in BENCHES:
        path = HERE / script
        if not path.exists():
            continue
        print(f"\n===== bench/{script} {' '.join(args)}", flush=True)
        r = subprocess.run([sys.executable, str(path), *args])
        if r.returncode != 0:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
