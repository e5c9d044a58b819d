"""The package's layering, written down and enforced (no root; reads the source with ``ast``).

:data:`LAYERS` is the table of allowed imports: a module may import modules of its own
component and of any component in a lower layer, never upward and never a peer of its own
layer (unless :data:`PEER_IMPORTS` says so). ``cora.certify`` stands apart: it imports only the
bottom layer, and only the command line imports it. Nothing imports ``cora.cli`` or
``cora.commands`` (the command line is the top; others use
:func:`cora.compiler.driver.compile_file`).
Every import counts, at module level or inside a function.

Separately, no module imports a private (underscore) name of another module, neither with
``from m import _x`` nor as ``m._x``.

:data:`KNOWN_VIOLATIONS` would list exceptions (it is empty); a listed edge or name that no
longer occurs fails the test too, so the list cannot go stale.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: import name of a top-level package -> its folder (pyproject.toml's package-dir).
PACKAGE_DIRS = {"cora": "cora", "cora.compiler": "compiler", "cora.runtime": "runtime",
                "cora.targets": "targets", "cora.netfuncs": "netfuncs",
                "cora.certify": "certify", "cora.testbed": "testbed", "cora.ina": "ina"}

#: the allowed imports, lowest layer first: a component (a module or package prefix; the
#: longest matching prefix names a module's component) may import its own component and
#: every component of a lower layer.
LAYERS: list[set[str]] = [
    {"cora.errors"},
    {"cora", "cora.settings", "cora.netfuncs", "cora.compiler.span", "cora.argtypes",
     "cora.jsonout", "cora.inputs", "cora.signals"},
    {"cora.compiler.ir"},
    {"cora.compiler.frontend", "cora.compiler.passes", "cora.compiler.interp"},
    {"cora.compiler.driver", "cora.compiler.offload"},
    {"cora.compiler"},   # the package's own __init__: the public API re-exported from the driver
    {"cora.targets.base", "cora.targets.ebpf"},
    {"cora.targets.xdp", "cora.targets.tc"},
    {"cora.targets"},
    {"cora.runtime"},
    {"cora.ina"},        # in-network aggregation: worker library and reference aggregator
    {"cora.ina.ddp"},    # the PyTorch DDP communication hook (the only cora.ina module with torch)
    {"cora.testbed"},
    {"cora.cli", "cora.commands", "cora.plan_command"},
]

#: peers of one layer that may import each other: (importer, imported).
PEER_IMPORTS: set[tuple[str, str]] = {
    ("cora.compiler.driver", "cora.compiler.frontend"),   # the driver runs the front end ...
    ("cora.compiler.driver", "cora.compiler.passes"),     # ... and the passes
}
# (the driver and offload are listed one layer up so that both may use the layer below)

#: the component that stands apart: it may import only the bottom layer, and only the
#: command line may import it.
APART = "cora.certify"

#: never imported by anything (the top of the stack).
TOP_ONLY = {"cora.cli", "cora.commands"}

#: Exceptions, each with its reason: (importing module, imported module) edges that break
#: the layers, and (importing module, "module._name") private imports. Empty: keep it so.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()
KNOWN_PRIVATE: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    """One import of a cora module: importer, imported module, private names used."""

    importer: str
    imported: str
    line: int


def _modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    mods: dict[str, Path] = {}
    for pkg, folder in PACKAGE_DIRS.items():
        for f in sorted((REPO / folder).rglob("*.py")):
            parts = list(f.relative_to(REPO / folder).with_suffix("").parts)
            if pkg == "cora" and len(parts) > 1:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join([pkg, *parts])] = f
    return mods


MODULES = _modules()


def _resolve(importer: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".") if path.name == "__init__.py" else importer.split(".")[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _scan(name: str, path: Path) -> tuple[list[Import], list[tuple[str, str, int]]]:
    """Imports of cora modules, and private names of other modules used, in one module."""
    tree = ast.parse(path.read_text(), str(path))
    imports: list[Import] = []
    private: list[tuple[str, str, int]] = []
    aliases: dict[str, str] = {}            # local name -> cora module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("cora"):
                    imports.append(Import(name, a.name, node.lineno))
                    if a.asname:
                        aliases[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom):
            mod = _resolve(name, path, node)
            if not mod.startswith("cora"):
                continue
            for a in node.names:
                sub = f"{mod}.{a.name}"
                if sub in MODULES:          # `from pkg import module`
                    imports.append(Import(name, sub, node.lineno))
                    aliases[a.asname or a.name] = sub
                else:
                    imports.append(Import(name, mod, node.lineno))
                    if a.name.startswith("_") and not a.name.startswith("__") and mod != name:
                        private.append((name, f"{mod}.{a.name}", node.lineno))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and node.attr.startswith("_")
                and not node.attr.startswith("__") and aliases[node.value.id] != name):
            private.append((name, f"{aliases[node.value.id]}.{node.attr}", node.lineno))
    return imports, private


def component(module: str) -> str:
    """The component of ``module``: the longest prefix listed in :data:`LAYERS` or APART."""
    names = set().union(*LAYERS) | {APART}
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in names:
            return ".".join(parts[:n])
    raise AssertionError(f"{module} is in no component of the layer table")


def layer(comp: str) -> int | None:
    """The index of ``comp``'s layer in :data:`LAYERS` (None for the apart component)."""
    for i, comps in enumerate(LAYERS):
        if comp in comps:
            return i
    return None


def allowed(importer: str, imported: str) -> bool:
    """Whether the table allows module ``importer`` to import module ``imported``."""
    a, b = component(importer), component(imported)
    if a == b:
        return True
    if b in TOP_ONLY or imported in TOP_ONLY:
        return False
    if a == APART:
        return (layer(b) or 0) <= 1  # the two bottom layers: errors and the shared helpers
    if b == APART:
        return layer(a) == len(LAYERS) - 1
    la, lb = layer(a), layer(b)
    return lb < la or (lb == la and (a, b) in PEER_IMPORTS)


def _all() -> tuple[list[Import], list[tuple[str, str, int]]]:
    imports, private = [], []
    for name, path in MODULES.items():
        i, p = _scan(name, path)
        imports += i
        private += p
    return imports, private


IMPORTS, PRIVATE = _all()


def test_the_scan_sees_the_package():
    assert {"cora.compiler.ir.core", "cora.targets.ebpf.emit", "cora.runtime.loader",
            "cora.cli", "cora.certify.nn"} <= set(MODULES)
    edges = {(i.importer, i.imported) for i in IMPORTS}
    assert ("cora.compiler.passes", "cora.compiler.ir") in edges
    assert all(component(m) for m in MODULES)


def test_the_rule_itself(tmp_path):
    """The checker rejects what the table forbids (so a pass below means something)."""
    assert allowed("cora.runtime.loader", "cora.targets.xdp")
    assert allowed("cora.targets.xdp", "cora.compiler.ir.core")
    assert allowed("cora.compiler.passes", "cora.errors")
    assert allowed("cora.cli", "cora.certify.commands")
    assert not allowed("cora.compiler.ir.verify", "cora.compiler.passes")      # upward
    assert not allowed("cora.compiler.offload.partition", "cora.targets.xdp")  # upward
    assert not allowed("cora.compiler.passes", "cora.compiler.interp")         # peer
    assert not allowed("cora.runtime.deploy", "cora.commands")                 # the CLI
    assert not allowed("cora.plan_command", "cora.commands")
    assert not allowed("cora.certify.nn", "cora.compiler.ir")                  # apart
    assert not allowed("cora.runtime.run", "cora.certify.nn")
    fake = tmp_path / "fake.py"
    fake.write_text("from cora.runtime.loader import _capture_fd2\n"
                    "from cora.compiler.ir import text\n"
                    "x = text._regs\n")
    imports, private = _scan("cora.fake", fake)
    assert [p[1] for p in private] == ["cora.runtime.loader._capture_fd2",
                                      "cora.compiler.ir.text._regs"]
    assert {i.imported for i in imports} == {"cora.runtime.loader", "cora.compiler.ir.text"}
    assert BENCH_PATH.search('ROOT / "bench" / "ref.py"') and BENCH_PATH.search("'bench/x.py'")
    assert not BENCH_PATH.search('cora("bench", FLOWCOUNT)')
    assert not BENCH_PATH.search(BENCH_RESULTS.sub("", 'ROOT / "bench" / "results" / "x.json"'))


def test_imports_follow_the_layers():
    bad = {(i.importer, i.imported) for i in IMPORTS if not allowed(i.importer, i.imported)}
    new = sorted(bad - KNOWN_VIOLATIONS)
    assert not new, "imports that break the layers (see LAYERS in tests/test_layers.py):\n" + \
        "\n".join(f"  {a} imports {b}" for a, b in new)
    fixed = sorted(KNOWN_VIOLATIONS - bad)
    assert not fixed, "fixed, remove from KNOWN_VIOLATIONS (issue 7): " + repr(fixed)


def test_no_private_names_across_modules():
    bad = {(a, b) for a, b, _ in PRIVATE}
    new = sorted(bad - KNOWN_PRIVATE)
    assert not new, "private names imported from another module:\n" + \
        "\n".join(f"  {a}:{line} uses {b}" for a, b, line in PRIVATE if (a, b) in new)
    fixed = sorted(KNOWN_PRIVATE - bad)
    assert not fixed, "fixed, remove from KNOWN_PRIVATE (issue 7): " + repr(fixed)


#: a path into bench/ written in a test (``/ "bench"``, ``"bench" /`` or ``"bench/..."``)
BENCH_RESULTS = re.compile(r"""["']bench["']\s*/\s*["']results["']|["']?bench/results/""")
BENCH_PATH = re.compile(r"""/\s*["']bench["']|["']bench["']\s*/|["']bench/""")


@pytest.mark.parametrize("folder", ["tests", "bench"])
def test_tests_and_benches_import_no_test_module_and_tests_no_bench(folder):
    """Tests share helpers through conftest and helper modules, never by importing a test
    module or bench/; benches import only the package."""
    offenders = []
    for f in sorted((REPO / folder).rglob("*.py")):
        if f == Path(__file__).resolve():
            continue
        tree = ast.parse(f.read_text(), str(f))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
                names += [f"{names[0]}.{a.name}" for a in node.names]
            for n in names:
                last = n.rsplit(".", 1)[-1]
                if last.startswith("test_") or n.startswith(("bench", "tests")) and \
                        folder == "bench":
                    offenders.append(f"{f.relative_to(REPO)}:{node.lineno} imports {n}")
        # recorded figures under bench/results/ are data a test may check; bench code is not
        text = BENCH_RESULTS.sub("", f.read_text())
        if folder == "tests" and BENCH_PATH.search(text):
            offenders.append(f"{f.relative_to(REPO)} reaches into bench/")
    assert not offenders, "\n".join(offenders)
