"""Fuzz: the AVEC text files (frame-time CSV, face-box CSV, ARFF gold standards) and Caffe's
HDF5 source list files.

Inputs: the formats' seeds mutated token by token (boundary numbers, NaN/Inf, Unicode digits,
stray quotes, braces, delimiters, BOMs, CR/CRLF endings) and byte by byte (invalid UTF-8,
NULs, truncation), plus grammar-generated files. Every case ends in arrays of the documented
shapes or in ``PortError`` (``DataError`` for list files) naming the file (and line).
"""
import os

import numpy as np
import pytest
from hypothesis import strategies as st

from caffe_compat.data.hdf5 import read_source_list
from caffe_compat.errors import CaffeCompatError
from matlab_ports.avec import (read_arff, read_bbox_csv, read_frame_times,
                               read_gold_standard_arff)
from matlab_ports.errors import PortError
from tests.fuzz import strategies as S
from tests.fuzz.harness import Campaign, peak_rss_growth


def test_fuzz_frame_time_csv(tmp_path):
    path = str(tmp_path / "seq.csv")
    campaign = Campaign("csv", "csv: frame times (dlmread)", PortError, names=[path],
                        share=0.6)
    cases = S.text_cases(S.frame_time_seeds, S.INTERESTING_NUMBERS, ["1;2;3;4;5;6;7;8", ";;",
                                                                    "a;b", "1,5;2"],
                         grammar=S.delimited_text())

    def body(data):
        with open(path, "wb") as f:
            f.write(data)
        out = read_frame_times(path)
        assert out.dtype == np.float64 and out.ndim == 2
        return len(data)

    campaign.run(cases, body)


def test_fuzz_bbox_csv(tmp_path):
    path = str(tmp_path / "boxes.csv")
    campaign = Campaign("csv", "csv: face boxes", PortError, names=[path], share=0.5)
    cases = S.text_cases(S.bbox_csv_seeds, S.INTERESTING_NUMBERS, ["1;2;3;4", "time,x,y,w,h",
                                                                  "1;2;3;4;5;6", "# x"],
                         grammar=S.delimited_text())

    def body(data):
        with open(path, "wb") as f:
            f.write(data)
        bbox, time = read_bbox_csv(path)
        assert bbox.dtype == np.float64 and bbox.shape == (time.size, 4)
        return len(data)

    campaign.run(cases, body)


def test_fuzz_arff(tmp_path):
    path = str(tmp_path / "gold.arff")
    campaign = Campaign("arff", "arff: gold standard (Weka)", PortError, names=[path],
                        share=1.0)
    cases = S.text_cases(S.arff_seeds, S.ARFF_WORDS, S.ARFF_LINES, grammar=S.arff_grammar())

    def body(data):
        with open(path, "wb") as f:
            f.write(data)
        arff = read_arff(path)
        assert len(arff["data"]) == 0 or all(len(r) == len(arff["attributes"])
                                             for r in arff["data"])
        for name, kind in arff["attributes"]:
            col = arff["columns"][name]
            assert len(col) == len(arff["data"])
        try:
            times, values = read_gold_standard_arff(path)
            assert times.dtype == values.dtype == np.float64 and times.shape == values.shape
        except PortError as exc:
            campaign.check_message(exc)
        return len(data)

    campaign.run(cases, body)


def test_fuzz_list_file(tmp_path, monkeypatch):
    folder = tmp_path / "lists"
    folder.mkdir()
    existing = []
    for name in ("a.h5", "b c.h5", "d.h5"):
        (folder / name).write_bytes(b"")
        existing.append(str(folder / name))
    monkeypatch.chdir(tmp_path)
    path = str(folder / "list.txt")
    campaign = Campaign("list", "list: HDF5 source list", CaffeCompatError, names=[path],
                        share=1.0)
    cases = st.one_of(S.list_file_text(existing).map(lambda t: t.encode("utf-8")),
                      S.list_file_text(existing).flatmap(
                          lambda t: S.mutate_bytes(t.encode("utf-8"), max_ops=3)))

    def body(data):
        with open(path, "wb") as f:
            f.write(data)
        files = read_source_list(path)
        assert files and all(os.path.exists(p) for p in files)
        return len(data)

    campaign.run(cases, body)


# --------------------------------------------------------------------------------------------
# Size and time bounds of the text readers (inputs the fuzzer is unlikely to draw)

def test_ragged_csv_does_not_expand_quadratically(tmp_path):
    """dlmread pads short rows with zeros: one 200,000-field row among 20,000 short ones would
    be a 4e9-value (32 GB) matrix from a 0.5 MB file; refused within the memory bound."""
    path = tmp_path / "ragged.csv"
    path.write_text("frameIndex;frameTime\n" + ";" * 200_000 + "1\n" + "1;2\n" * 20_000)
    with peak_rss_growth() as mem:
        with pytest.raises(PortError, match=r"ragged\.csv"):
            read_frame_times(str(path))
    assert mem["growth"] < 64 * 2**20


def test_many_arff_attributes_parse_in_linear_time(tmp_path):
    import time
    path = tmp_path / "wide.arff"
    n = 50_000
    path.write_text("@relation r\n" + "".join(f"@attribute a{i} numeric\n" for i in range(n))
                    + "@data\n" + ",".join("1" for _ in range(n)) + "\n")
    t0 = time.perf_counter()
    arff = read_arff(str(path))
    assert len(arff["attributes"]) == n
    assert time.perf_counter() - t0 < 10


@pytest.mark.parametrize("text", ["\u0661;\u0662", "\uff11;2", "1;\u00b2"])
def test_non_ascii_digits_are_not_numbers(tmp_path, text):
    """dlmread and Weka read ASCII digits only; Arabic-Indic or full-width digits are text."""
    path = tmp_path / "u.csv"
    path.write_text("h\n" + text + "\n", encoding="utf-8")
    with pytest.raises(PortError, match="is not a number"):
        read_frame_times(str(path))
