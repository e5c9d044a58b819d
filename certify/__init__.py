"""Certified learned congestion control (after C3/Canopy): numpy policy, abstract interpreter,
simulator, training, fixed-point BPF struct_ops export. See docs/certify.md.

The analysis is many small matrix products; a multi-threaded BLAS on a busy 2-core machine
makes them slower, so one BLAS thread is the default (when numpy is not imported yet).
"""

import os as _os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_v, "1")
