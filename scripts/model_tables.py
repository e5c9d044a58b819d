"""Rewrite the figure tables of docs/targets.md ("The figures") from the stage models.

Usage: ``.venv/bin/python scripts/model_tables.py [--check]``. Each ``#### `NAME` (...)``
section of "The figures" gets :meth:`cora.compiler.offload.stage_model.StageModel.
figures_markdown` of model NAME. ``--check`` changes nothing and exits 1 if the file is out
of date (tests/test_docs_tables.py runs it so).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from cora.compiler.offload.stage_model import load_model

DOC = Path(__file__).resolve().parents[1] / "docs" / "targets.md"
_SECTION = re.compile(r"^#### `(\w+)` \(([^\n]*)\)\n\n(\| figure \| value \|.*?\n)(?=\n)",
                      re.M | re.S)


def render(text: str) -> str:
    """``text`` (docs/targets.md) with every model section's heading and table regenerated."""
    def one(m: re.Match) -> str:
        model = load_model(m.group(1))
        return f"#### `{model.name}` ({model.description})\n\n{model.figures_markdown()}"
    return _SECTION.sub(one, text)


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check`` compare) the tables; 1 when ``--check`` finds a change."""
    args = sys.argv[1:] if argv is None else argv
    old = DOC.read_text()
    new = render(old)
    if "--check" in args:
        if new != old:
            print(f"{DOC}: the stage-model tables are out of date: run "
                  "scripts/model_tables.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
