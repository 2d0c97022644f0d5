"""benchmarks/rule_places.py: the table of where each layer type's rules live, on this tree
(well-formed, its counts those of the files it names), and its definitions on a small tree of
its own (what registers a type, what reads a message, through a helper in another module)."""
import importlib.util
import re

from tests.conftest import REPO


def _counter():
    spec = importlib.util.spec_from_file_location("rule_places",
                                                  REPO / "benchmarks" / "rule_places.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(lines, cells):
    assert lines[1] == "|" + "|".join(["---"] + ["---:"] * (cells - 2) + ["---"]) + "|"
    rows = []
    for line in lines[2:]:
        assert line.startswith("| ") and line.endswith(" |"), line
        row = [c.strip() for c in line[1:-1].split("|")]
        assert len(row) == cells, line
        rows.append(row)
    return rows


def test_the_table_of_this_tree_is_well_formed(capsys):
    counter = _counter()
    assert counter.main(["--top", "25", "--more"]) == 0
    table, more = capsys.readouterr().out.split("\n\n")
    lines = table.splitlines()
    assert lines[0] == "| type | files (a) | parsing (b) | which (b) |"
    rows = _rows(lines, 4)
    assert len(rows) == 25
    files = [int(a) for _, a, _, _ in rows]
    assert files == sorted(files, reverse=True) and files[0] > 1
    for type_name, a, b, which in rows:
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", type_name)
        named = which.split(", ") if which else []
        for path in named:
            assert (REPO / "caffe_compat" / path).exists() or (REPO / path).exists(), path
        rules = [p for p in named if p.startswith("rules/")]
        assert named[:len(rules)] == rules, f"{type_name}: the rule modules come first"
        assert int(b) == len(named) - len(rules) + bool(rules) <= int(a)
    for line in more.strip().splitlines():
        assert re.fullmatch(r"- [A-Za-z0-9]+ \((\d+)\): .+", line) and \
            int(re.search(r"\((\d+)\)", line).group(1)) > 1, line


def test_before_and_after_columns_side_by_side():
    counter = _counter()
    places = {"Pooling": ({"caffe_compat/a.py", "caffe_compat/rules/pooling.py"},
                          {"caffe_compat/rules/pooling.py"}),
              "ReLU": ({"caffe_compat/b.py"}, set())}
    before = {"Pooling": ({"caffe_compat/a.py", "caffe_compat/c.py", "caffe_compat/d.py"},
                          {"caffe_compat/a.py", "caffe_compat/c.py"})}
    lines = counter.table(places, before, top=25)
    assert _rows(lines, 6) == [["Pooling", "3", "2", "2", "1", "rules/pooling.py"],
                               ["ReLU", "0", "1", "0", "0", ""]]


def test_what_is_counted_on_a_small_tree(tmp_path):
    counter = _counter()
    files = {
        # an engine: registers Pooling, hands the message to the rule module's helper
        "caffe_compat/layers/pooling.py": (
            "from ..rules.pooling import geometry\n"
            "@register_layer('Pooling')\n"
            "class Pooling:\n"
            "    def __init__(self, param):\n"
            "        self.kernel = geometry(param.pooling_param)\n"),
        # the rule module reads the message through the parameter it was handed
        "caffe_compat/rules/pooling.py": (
            "def geometry(p):\n"
            "    return p.kernel_size if p.HasField('kernel_size') else 1\n"),
        # a writer (pycaffe's net_spec) refers to the message but does not read it
        "caffe/net_spec.py": (
            "def write(lp):\n"
            "    lp.pooling_param.kernel_size = 2\n"
            "    lp.pooling_param.pad.append(1)\n"),
        # a dispatch table of another engine; a second engine reads relu_param itself
        "caffe_compat/net/summary.py": "SHAPES = {'Pooling': len, 'ReLU': len}\n",
        "caffe_compat/onnx_path/relu.py": (
            "register('ReLU')(lambda lp: lp.relu_param.negative_slope)\n"),
        "caffe_compat/kernels/_pool.c": "/* Caffe's PoolingLayer::Forward_cpu */\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    places = counter.Tree(str(tmp_path)).places()
    assert set(places) == {"Pooling", "ReLU"}
    a, b = places["Pooling"]
    assert a == {"caffe_compat/layers/pooling.py", "caffe_compat/rules/pooling.py",
                 "caffe/net_spec.py", "caffe_compat/net/summary.py",
                 "caffe_compat/kernels/_pool.c"}
    assert b == {"caffe_compat/rules/pooling.py"}
    assert places["ReLU"] == ({"caffe_compat/net/summary.py", "caffe_compat/onnx_path/relu.py"},
                              {"caffe_compat/onnx_path/relu.py"})
