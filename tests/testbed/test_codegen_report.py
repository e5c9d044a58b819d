"""The reports of bench/codegen.py runs (cora.testbed.codegen_report), checked on the run saved in
bench/results/codegen_results.json and on a hand-made live row with a hand-written reference: every
timed row and every live row appears once, with the figures of the run (no root)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from cora.testbed.codegen_report import markdown_tables, plot, print_table

SAVED = Path(__file__).resolve().parents[2] / "bench" / "results" / "codegen_results.json"


def _saved() -> tuple[list[dict], list[dict], dict]:
    data = json.loads(SAVED.read_text())
    return data["rows"], data["live"], data["settings"]


def _table_rows(md: str, header_start: str) -> list[list[str]]:
    lines = md.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith(header_start))
    out = []
    for line in lines[i + 2:]:
        if not line.startswith("|"):
            break
        out.append([c.strip() for c in line.strip("|").split("|")])
    return out


def test_markdown_has_every_timed_row_with_its_ratios():
    rows, live, _ = _saved()
    md = markdown_tables(rows, live)
    table = _table_rows(md, "| NF | trace |")
    timed = [r for r in rows if "ratio" in r]
    assert len(table) == len(timed) > 0
    for cells, r in zip(table, timed, strict=True):
        assert cells[0] == r["nf"] and cells[1] == r["trace"].replace(".pcap", "")
        assert float(cells[5]) == round(r["ratio"], 2)
        assert float(cells[6]) == round(r["ratio_no_stats"], 2)


def test_live_table_shows_the_reference_only_where_one_ran():
    rows, live, _ = _saved()
    # a row as saved before references ran live (and before the added ns were recorded):
    # no reference figures, the added ns computed from the rates
    no_ref = {k: v for k, v in live[0].items() if "ref" not in k and k != "live_extra_ns_nf"}
    no_ref["nf"] = "noref"
    with_ref = dict(live[0], nf="withref", rate_mpps_nf=1.0, rate_mpps_trivial=1.25,
                    ratio=0.8, rate_mpps_ref=1.1, ratio_ref=0.88, ratio_nf_ref=1.0 / 1.1,
                    live_extra_ns_nf=200.0, live_extra_ns_ref=109.1)
    table = _table_rows(markdown_tables(rows, [no_ref, with_ref]), "| NF | Mpps nf |")
    assert [c[0] for c in table] == ["noref", "withref"]
    old = table[0]
    assert old[2] == old[5] == old[6] == "-"
    assert float(old[7]) == round(1e3 / no_ref["rate_mpps_nf"]
                                  - 1e3 / no_ref["rate_mpps_trivial"])
    assert table[-1][2:] == ["1.10", "1.25", "0.80", "0.88", "0.91", "200 (109)"]
    # the saved run: every NF's row, the reference's figures where one ran
    saved = _table_rows(markdown_tables(rows, live), "| NF | Mpps nf |")
    assert [c[0] for c in saved] == [r["nf"] for r in live]
    for cells, r in zip(saved, live, strict=True):
        assert (cells[2] == "-") == ("rate_mpps_ref" not in r)


def test_text_table_and_chart_of_the_saved_run(tmp_path, capsys):
    rows, live, settings = _saved()
    print_table(rows, live, SimpleNamespace(**settings))
    out = capsys.readouterr().out
    assert sum(line.startswith(r["nf"]) for r in rows for line in out.splitlines()
               if r["trace"][:22] in line) == len(rows)
    png = tmp_path / "ratios.png"
    plot(rows, live, png, "test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
