"""docs/environment.md lists every ``CAFFE_COMPAT_*`` environment variable: one row per name
the code (the packages, the tests, the benchmarks; C header guards aside) spells out, and no row
for a name nothing spells out any more."""
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bCAFFE_COMPAT_[A-Z0-9_]+\b")
GUARD = re.compile(r"^\s*#\s*(?:ifndef|define)\s+(CAFFE_COMPAT_[A-Z0-9_]+_H)\b", re.M)
ROW = re.compile(r"^\|\s*`(CAFFE_COMPAT_[A-Z0-9_]+)`\s*\|", re.M)


def _names_in_code():
    """{name: first file that spells it}."""
    found = {}
    for folder in ("caffe_compat", "caffe", "tests", "benchmarks"):
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix not in (".py", ".c", ".h") or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            guards = set(GUARD.findall(text))
            for name in NAME.findall(text):
                if name not in guards:
                    found.setdefault(name, str(path.relative_to(REPO)))
    return found


def test_every_variable_the_code_reads_has_one_row_and_every_row_a_reader():
    rows = ROW.findall((REPO / "docs" / "environment.md").read_text(encoding="utf-8"))
    assert len(rows) == len(set(rows)), "a variable with two rows in docs/environment.md"
    code = _names_in_code()
    missing = {n: f for n, f in code.items() if n not in rows}
    assert not missing, f"variables without a row in docs/environment.md: {missing}"
    stale = sorted(set(rows) - set(code))
    assert not stale, f"rows of docs/environment.md that no code reads: {stale}"
