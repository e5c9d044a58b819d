"""bench/codegen.py's README tables come from a saved run (no root: no program is loaded)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _codegen():
    spec = importlib.util.spec_from_file_location("codegen_bench", BENCH / "codegen.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_markdown_tables_of_the_saved_run(capsys):
    data = json.loads((BENCH / "codegen_results.json").read_text())
    text = _codegen().markdown_tables(data["rows"], data["live"])
    lines = text.splitlines()
    assert lines[0].startswith("| NF | trace | nf | no stats | hand-written |")
    timed = [r for r in data["rows"] if "ratio" in r]
    assert sum(1 for ln in lines if ln.count("|") == 8 and not ln.startswith("|---")) \
        == len(timed) + 1
    r = timed[0]
    assert f"| {r['nf']} | {r['trace'].replace('.pcap', '')} | {r['ns_per_packet_nf']:.1f} |" \
        in text
    if data["live"]:
        assert "| NF | Mpps nf | Mpps trivial | nf / trivial |" in lines


def test_table_from_prints_markdown_and_rejects_a_bad_file(tmp_path, capsys):
    mod = _codegen()
    assert mod.main(["--table-from", str(BENCH / "codegen_results.json"), "--markdown",
                     "--png", ""]) == 0
    assert capsys.readouterr().out.startswith("| NF | trace |")
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    assert mod.main(["--table-from", str(bad), "--png", ""]) == 1
    assert "not a saved --json run" in capsys.readouterr().err
