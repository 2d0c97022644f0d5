"""Table 1 writer: the paper's values (package data, with the citation) beside ours."""
import csv
import io
import math

import pytest

from reproduction import table as T
from tests.conftest import fixture_path

OURS = {
    (None, "HR"): dict(rmse=0.2, cc_run_eval=0.5, ccc_run_eval=0.4, pearson_r=0.51,
                       ccc_avec=0.41),
    (3, "LR-3"): dict(rmse=0.25, cc_run_eval=0.45, ccc_run_eval=0.3, pearson_r=0.46,
                      ccc_avec=0.31),
    (3, "Joint-OA"): dict(rmse=0.24, cc_run_eval=None, ccc_run_eval=0.35, pearson_r=None,
                          ccc_avec=0.36),
}


def test_paper_values_match_the_shared_csv():
    path = fixture_path("paper", "table1.csv")
    stored = T.paper_values()
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(stored) == 25
    checked = 0
    for r in rows:
        key = (None if r["s"] == "-" else int(r["s"]), r["method"])
        for k in ("rmse", "cc", "ccc"):
            # both are the paper's 3-decimal numbers: equal up to float parsing
            assert stored[key][k] == pytest.approx(float(r[k]), abs=1e-12), (key, k)
            checked += 1
    assert checked == 75
    # a few cells spelled out
    assert stored[(None, "HR")]["ccc"] == 0.325
    assert stored[(6, "Joint-OA")]["cc"] == 0.375
    assert stored[(16, "Non-Joint-16")]["rmse"] == 0.124


def test_rows_deltas_and_missing_values():
    rows = T.rows(OURS, methods=("hr", "lr", "joint-oa"), factors=(3, 6))
    assert [(r["s"], r["method"]) for r in rows] == [
        (None, "HR"), (3, "LR-3"), (3, "Joint-OA"), (6, "LR-6"), (6, "Joint-OA")]
    hr = rows[0]
    # delta = ours - paper, one float subtraction
    assert hr["delta_ccc"] == pytest.approx(0.4 - 0.325, abs=1e-15)
    assert hr["delta_rmse"] == pytest.approx(0.2 - 0.146, abs=1e-15)
    assert hr["paper_cc"] == 0.43 and hr["pearson_r"] == 0.51
    oa3 = rows[2]
    assert math.isnan(oa3["cc"]) and math.isnan(oa3["delta_cc"])
    assert oa3["ccc"] == 0.35
    assert math.isnan(rows[3]["ccc"]) and rows[3]["paper_ccc"] == 0.263


def test_markdown_has_citation_and_dashes():
    md = T.to_markdown(T.rows(OURS, ("hr", "lr", "joint-oa"), (3,)), notes=["a note"])
    assert "arXiv:1709.03126" in md and "Table 1" in md
    assert "| - | HR | 0.146 | 0.200 | +0.054 | 0.430 | 0.500 | +0.070 |" in md
    assert "| 3 | Joint-OA | 0.129 | 0.240 | +0.111 | 0.399 | — | — |" in md
    assert md.rstrip().endswith("- a note")


def test_csv_columns_and_values():
    text = T.to_csv(T.rows(OURS, ("hr", "lr"), (3,)))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == T.CSV_COLUMNS
    assert rows[0]["s"] == "" and rows[1]["s"] == "3"
    assert rows[1]["paper_ccc"] == "0.302000" and rows[1]["ccc"] == "0.300000"
    assert rows[1]["delta_ccc"] == "-0.002000"


def test_write_table_files(tmp_path):
    files = T.write_table(OURS, tmp_path, ("hr", "lr", "joint-oa"), (3, 4))
    for key in ("markdown", "csv", "png"):
        assert (tmp_path / files[key].split("/")[-1]).is_file()
    assert (tmp_path / "table1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # no temporary files left behind (atomic writes)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table1.csv", "table1.md",
                                                          "table1.png"]


def test_paper_only_table():
    md = T.to_markdown(T.rows({}))
    assert md.count("\n| ") == 26           # header + 25 rows of the paper
    assert "| 16 | Joint-OA | 0.132 | — | — | 0.273 | — | — | 0.172 | — | — |" in md
