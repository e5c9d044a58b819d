"""DDP training on the INA testbed (MEASURED): gloo's all-reduce vs the cora INA hook (dense)
vs INA with compression (LHC, union), side by side in one run; prints the training table
(per-iteration time, final loss, bytes per worker, weights identical across workers,
distance to gloo's weights) and writes JSON and a plot when asked.

Usage (root, torch installed)::

    .venv/bin/python bench/ina_train.py --workers 4 --steps 30 --models ncf,mlp \\
        --methods gloo,ina,lhc,union --json bench/results/ina_train.json \\
        --plot docs/figures/ina_train.png

All options: ``python -m cora.testbed.ina_train --help`` (this script is that command).
"""

import sys

from cora.testbed.ina_train import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
