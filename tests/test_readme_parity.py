"""The parity table (docs/parity.md, linked from the README): every row names the tests that
measure it on a fresh clone, and those tests exist (files, and the functions named with ``::``
or by name)."""
import itertools
import re

from tests.conftest import REPO


def _rows():
    text = (REPO / "docs" / "parity.md").read_text(encoding="utf-8")
    section = text.split("\n## The claims", 1)[1].split("\n## ", 1)[0]
    return [ln for ln in section.splitlines()
            if ln.startswith("| ") and not ln.startswith("| claim")]


def _expand(path):
    """tests/a/test_{x,y}.py -> [tests/a/test_x.py, tests/a/test_y.py]; <type> -> glob."""
    parts = re.split(r"\{([^}]*)\}", path)
    options = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    for combo in itertools.product(*options):
        name = "".join(combo)
        if "<" in name:
            yield from sorted(REPO.glob(re.sub(r"<[^>]+>", "*", name)))
        else:
            yield REPO / name


def _defines(files, name):
    return any(re.search(rf"^def {re.escape(name)}\(", f.read_text(encoding="utf-8"), re.M)
               for f in files if f.is_file())


def test_every_row_names_existing_tests():
    rows = _rows()
    assert len(rows) >= 15
    problems = []
    for row in rows:
        claim, cell = row.split(" | ")[0][2:], row.rstrip(" |").split(" | ")[-1]
        tokens = re.findall(r"`([^`]+)`", cell)
        files, current = [], []
        for tok in tokens:
            path, _, func = tok.partition("::")
            if path.endswith(".py"):
                current = list(_expand(path))
                missing = [str(f.relative_to(REPO)) for f in current if not f.is_file()]
                if missing or not current:
                    problems.append(f"{claim}: no file {missing or path}")
                files += current
            if func and not _defines(current, func):
                problems.append(f"{claim}: {tok} names no function")
            if not path.endswith(".py") and not func and re.fullmatch(r"test_\w+", tok) \
                    and not _defines(files, tok):
                problems.append(f"{claim}: {tok} is not a test of {cell}")
        if not any(f.name.startswith("test_") for f in files):
            problems.append(f"{claim}: names no test file")
    assert problems == []
