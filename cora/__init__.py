"""cora: a compiler and runtime for stateful network functions on eBPF and SmartNICs.

Subpackages: ``cora.compiler`` (language, IR, interpreter), ``cora.targets`` (code
generators), ``cora.runtime`` (load, attach, run), ``cora.testbed`` (namespaces, traffic),
``cora.certify`` (certified learned congestion control), ``cora.netfuncs`` (the NF library).
"""

__version__ = "0.1.0"
