"""In-network gradient aggregation (INA): the wire protocol (:mod:`cora.ina.protocol`), the
worker library (:func:`allreduce`, :mod:`cora.ina.worker`), lossless homomorphic
compression of sparse tensors (:mod:`cora.ina.lhc`) and the user-space reference
aggregator (:mod:`cora.ina.ps`). See docs/ina.md."""

from cora.ina.worker import (
    InaError,
    InaOverflow,
    InaTimeout,
    allocate,
    allreduce,
    dequantize,
    forget,
    quantize,
)

__all__ = ["InaError", "InaOverflow", "InaTimeout", "allocate", "allreduce", "dequantize",
           "forget", "quantize"]
