"""docs/targets.md's stage-model tables are what the models say (scripts/model_tables.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from cora.compiler.offload.stage_model import load_model

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("model_tables",
                                                  ROOT / "scripts" / "model_tables.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_targets_doc_tables_are_current():
    mod = _script()
    text = mod.DOC.read_text()
    assert mod.render(text) == text, "run .venv/bin/python scripts/model_tables.py"
    for name in ("xdp", "user", "agilio", "bluefield2"):
        assert f"#### `{name}` (" in text


def test_a_changed_figure_shows_in_the_table():
    agilio = load_model("agilio")
    table = agilio.figures_markdown()
    assert "| host_clock_period_ns | 1,000,000 | modelled |" in table
    assert "| opcode_cost_ns.now | 8.9 | modelled |" in table
    assert "| cores | 48 | cited |" in table
    xdp = load_model("xdp").figures_markdown()
    assert "| measured |" in xdp
