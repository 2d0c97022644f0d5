"""AVEC 2016 file formats: dlmread-like CSV, ARFF, bbox/gsd .mat files, bbox CSV."""
import math

import numpy as np
import pytest

from matlab_ports import avec
from matlab_ports.errors import PortError, PortFileError


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------- frame-time CSV (dlmread)

def test_read_frame_times_like_dlmread(tmp_path):
    p = _write(tmp_path, "t.csv", "frameIndex;frameTime\n0;0\n1;0.04\n\n2;;7\n3\n4;1e-3;-Inf\n")
    m = avec.read_frame_times(p)
    assert m.dtype == np.float64 and m.shape == (5, 3)
    np.testing.assert_array_equal(m[:, 0], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(m[:, 1], [0, 0.04, 0, 0, 1e-3])   # empty field -> 0
    np.testing.assert_array_equal(m[:, 2], [0, 0, 7, 0, -math.inf])  # short rows padded


def test_read_frame_times_header_only_and_crlf(tmp_path):
    assert avec.read_frame_times(_write(tmp_path, "h.csv", "a;b\n")).shape == (0, 0)
    p = tmp_path / "crlf.csv"
    p.write_bytes(b"\xef\xbb\xbfh\r\n1;2\r\n3;4\r\n")
    np.testing.assert_array_equal(avec.read_frame_times(p), [[1, 2], [3, 4]])


def test_read_frame_times_error_names_file_and_line(tmp_path):
    p = _write(tmp_path, "bad.csv", "frame;time\n0;0\n1;zero\n")
    with pytest.raises(PortError, match=r"bad\.csv:3: column 2: 'zero'"):
        avec.read_frame_times(p)


def test_missing_file_is_a_port_file_error(tmp_path):
    for reader in (avec.read_frame_times, avec.read_arff, avec.read_bbox_csv):
        with pytest.raises(PortFileError, match=r"nothere\.txt: cannot read"):
            reader(tmp_path / "nothere.txt")


def test_frame_times_round_trip_exact(tmp_path):
    rng = np.random.default_rng(1)
    times = np.concatenate([np.arange(7501) * 0.04, np.arange(100) / 30.0,
                            rng.uniform(0, 300, 100), [1e-7, 123456789.123456789]])
    p = tmp_path / "rt.csv"
    avec.write_frame_times(p, times)
    text = p.read_text().splitlines()
    assert text[0] == avec.FRAME_TIME_HEADER and text[1] == "0;0" and text[2] == "1;0.04"
    m = avec.read_frame_times(p)
    np.testing.assert_array_equal(m[:, 0], np.arange(times.size))
    assert np.array_equal(m[:, 1], times)                            # bit-identical doubles


# ---------------------------------------------------------------- ARFF

ARFF_TEXT = """\
% a comment line
% another one
@RELATION 'my relation'

@Attribute Instance_name STRING
@attribute "frame time" NUMERIC   % trailing comment
@attribute value real
@attribute label {happy, 'so so', sad}
@attribute n integer

@DATA
% comment in data
'dev_1', 0, 0.5, happy, 1
"it's, quoted", 0.04, ?, 'so so', ?
'?', 8e-2, -1, sad, 3 % inline comment
plain,0.12,-0.25,?,4
"""


def test_read_arff(tmp_path):
    arff = avec.read_arff(_write(tmp_path, "a.arff", ARFF_TEXT))
    assert arff["relation"] == "my relation"
    assert arff["attributes"] == [("Instance_name", "string"), ("frame time", "numeric"),
                                  ("value", "real"), ("label", ("happy", "so so", "sad")),
                                  ("n", "integer")]
    assert arff["data"][0] == ("dev_1", 0.0, 0.5, "happy", 1.0)
    cols = arff["columns"]
    assert cols["Instance_name"] == ["dev_1", "it's, quoted", "?", "plain"]
    np.testing.assert_array_equal(cols["frame time"], [0, 0.04, 0.08, 0.12])
    assert cols["value"].dtype == np.float64 and math.isnan(cols["value"][1])
    assert cols["label"] == ["happy", "so so", "sad", None]
    assert math.isnan(cols["n"][1])


def test_write_arff_rejects_bad_values(tmp_path):
    with pytest.raises(PortError, match=r"w\.arff: row 1: 1 values for 2 attributes"):
        avec.write_arff(tmp_path / "w.arff", "r", [("a", "numeric"), ("b", "string")],
                        [(1, "x"), (2,)])
    with pytest.raises(PortError, match=r"row 0, attribute 'a': 'x' is not a number"):
        avec.write_arff(tmp_path / "w.arff", "r", [("a", "numeric")], [("x",)])
    assert not (tmp_path / "w.arff").exists()


def test_arff_round_trip(tmp_path):
    attributes = [("Instance_name", "string"), ("frameTime", "numeric"),
                  ("Gold Standard", "numeric"), ("mood", ("up", "down low"))]
    rows = [("train_1", 0.0, -0.022925, "up"),
            ("it's \"odd\", 100%", 0.04, math.nan, "down low"),
            ("back\\slash {x}", 1 / 3, 1e-300, None),
            (None, 7.0, -0.0, "up")]
    p = tmp_path / "rt.arff"
    avec.write_arff(p, "GOLD STANDARD", attributes, rows)
    arff = avec.read_arff(p)
    assert arff["relation"] == "GOLD STANDARD" and arff["attributes"] == attributes
    for got, want in zip(arff["data"], rows):
        assert got[0] == want[0] and got[3] == want[3]
        for g, w in zip(got[1:3], want[1:3]):
            assert (math.isnan(g) and math.isnan(w)) or g == w


def test_gold_standard_arff(tmp_path):
    text = ("@relation GOLDSTANDARD\n\n@attribute Instance_name string\n"
            "@attribute frameTime numeric\n@attribute GoldStandard numeric\n\n\n@data\n\n"
            "dev_1,0,-0.022925\ndev_1,0.04,-0.022925\ndev_1,0.08,0.0004085\n")
    t, v = avec.read_gold_standard_arff(_write(tmp_path, "g.arff", text))
    np.testing.assert_array_equal(t, [0, 0.04, 0.08])
    np.testing.assert_array_equal(v, [-0.022925, -0.022925, 0.0004085])
    times, values = np.arange(50) * 0.04, np.sin(np.arange(50) / 7.0)
    p = tmp_path / "w.arff"
    avec.write_gold_standard_arff(p, "train_1", times, values)
    lines = p.read_text().splitlines()
    assert lines[:5] == ["@relation GOLDSTANDARD", "", "@attribute Instance_name string",
                         "@attribute frameTime numeric", "@attribute GoldStandard numeric"]
    assert lines[9] == "train_1,0,0" and lines[10].startswith("train_1,0.04,")
    t2, v2 = avec.read_gold_standard_arff(p)
    assert np.array_equal(t2, times) and np.array_equal(v2, values)


@pytest.mark.parametrize("text, where, what", [
    ("@relation r\n@attribute a numeric\n@attribute b blob\n@data\n", ":3:", "unknown attribute"),
    ("@relation r\n@attribute a numeric\n@attribute b string\n@data\n1,x\n2\n", ":6:",
     "1 values for 2 attributes"),
    ("@relation r\n@attribute a numeric\n@data\n1\nx\n", ":5:", "'x' is not a number"),
    ("@relation r\n@attribute a {u,v}\n@data\nw\n", ":4:", "not one of"),
    ("@relation r\n@attribute a numeric\n@data\n{0 1}\n", ":4:", "sparse"),
    ("@relation r\n@attribute a string\n@data\n'open\n", ":4:", "unterminated"),
    ("@relation r\n@attribute a numeric\n@attribute b numeric\n@data\n1,,2\n", ":5:", "empty"),
    ("@relation r\nhello\n", ":2:", "expected @relation"),
    ("@relation r\n@attribute a numeric\n", "r.arff:", "no @data"),
])
def test_arff_errors_name_file_and_line(tmp_path, text, where, what):
    p = _write(tmp_path, "r.arff", text)
    with pytest.raises(PortFileError) as err:
        avec.read_arff(p)
    message = str(err.value)
    assert str(p) in message and where in message and what in message


# ---------------------------------------------------------------- bbox CSV

def test_read_bbox_csv(tmp_path):
    p = _write(tmp_path, "b.csv", "time;x;y;w;h\n0;10.5;20;120;121\n0.04;0;0;0;0\n\n")
    bbox, t = avec.read_bbox_csv(p)
    np.testing.assert_array_equal(t, [0, 0.04])
    np.testing.assert_array_equal(bbox, [[10.5, 20, 120, 121], [0, 0, 0, 0]])
    bbox, t = avec.read_bbox_csv(_write(tmp_path, "c.csv", "# boxes\n0,1,2,3,4\n1,5,6,7,8\n"))
    np.testing.assert_array_equal(bbox, [[1, 2, 3, 4], [5, 6, 7, 8]])
    with pytest.raises(PortError, match=r"d\.csv:3: 4 fields"):
        avec.read_bbox_csv(_write(tmp_path, "d.csv", "t,x,y,w,h\n0,1,2,3,4\n1,2,3,4\n"))


# ---------------------------------------------------------------- bbox / gsd .mat

def test_bbox_gsd_mat_round_trip(tmp_path):
    matfile = pytest.importorskip("matlab_ports.matfile")
    times = np.arange(30) * 0.04
    bbox = np.random.default_rng(0).uniform(0, 200, (30, 4))
    bbox[3] = 0
    avec.write_bbox_mat(tmp_path / "b.mat", bbox, times)
    raw = matfile.loadmat(tmp_path / "b.mat")
    assert np.asarray(raw["bbox"]).shape == (30, 4) and np.asarray(raw["time"]).shape == (30, 1)
    b2, t2 = avec.read_bbox_mat(tmp_path / "b.mat")
    assert np.array_equal(b2, bbox) and np.array_equal(t2, times)
    gsd = np.tanh(np.linspace(-2, 2, 30))
    avec.write_gsd_mat(tmp_path / "g.mat", gsd, times)
    assert np.asarray(matfile.loadmat(tmp_path / "g.mat")["gsd"]).shape == (30, 1)
    g2, t3 = avec.read_gsd_mat(tmp_path / "g.mat")
    assert np.array_equal(g2, gsd) and np.array_equal(t3, times)
    with pytest.raises(PortError, match=r"g\.mat: missing variable\(s\) bbox"):
        avec.read_bbox_mat(tmp_path / "g.mat")
