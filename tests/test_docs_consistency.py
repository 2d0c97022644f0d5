"""What the README and docs/ say about the code agrees with the code, where a machine can tell.

The site's own links and anchors are checked by ``mkdocs build --strict`` (CI); the README's
links and anchors, its commands and printed values by tests/test_readme_commands.py; every
command line and flag the pages show by tests/test_docs_commands.py. Here: the pages' words
for a README section name a section the README has; the cv2.dnn backends and targets
docs/from-cv2-dnn.md lists as not provided are those the code refuses, and the others are
accepted; ``-gpu``'s help says what docs/from-caffe.md says each command does with several
ids; the demo's printed time estimate is the one the README and docs/reproduction.md state;
the README's speed sentence names its machine and leaves the figures to docs/benchmarks.md.
"""
import re
import warnings

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
PAGES = {p.name: p.read_text(encoding="utf-8") for p in sorted((REPO / "docs").glob("*.md"))}


def _headings(text):
    return [h.strip() for h in re.findall(r"^#+ (.*)$", text, re.M)]


def test_readme_sections_named_in_the_docs_exist():
    """"the README's X section" names a README heading that contains X."""
    headings = [h.lower() for h in _headings(README)]
    problems = []
    for name, text in PAGES.items():
        for words in re.findall(r"README's ([\w -]+?) section", text.replace("\n", " ")):
            if not any(words.lower() in h for h in headings):
                problems.append(f"{name}: the README's {words} section")
    assert problems == [], (problems, headings)


def _not_provided(kind):
    """The DNN_BACKEND_* / DNN_TARGET_* names docs/from-cv2-dnn.md lists as not provided, and
    those its bullet names as the provided exceptions (for backends)."""
    section = PAGES["from-cv2-dnn.md"].split("## What is not provided", 1)[1].split("\n## ")[0]
    bullet = " ".join(section.split("\n- ")[1].split())
    if kind == "backend":
        head, _, rest = bullet.partition("(")
        provided = re.findall(r"\b(DEFAULT|OPENCV|INFERENCE_ENGINE|CUDA)\b",
                              bullet.split("backends other than ", 1)[1].split(" (`")[0])
        refused = re.findall(r"`(?:DNN_BACKEND_)?([A-Z_0-9]+)`", bullet.split(" (`", 1)[1]
                             .split(")", 1)[0])
        return provided, refused
    refused = re.findall(r"`(?:DNN_TARGET_)?([A-Z_0-9]+)`", bullet.split("targets ", 1)[1])
    return None, refused


def test_cv2_dnn_backends_as_documented():
    from caffe_compat import dnn
    provided, refused = _not_provided("backend")
    assert set(provided) == {"DEFAULT", "OPENCV", "INFERENCE_ENGINE", "CUDA"}, provided
    assert refused, "the page lists no refused backend"
    net = dnn.readNetFromCaffe(str(REPO / "examples" / "quickstart" / "deploy.prototxt"))
    for name in provided:
        net.setPreferableBackend(getattr(dnn, f"DNN_BACKEND_{name}"))
    for name in refused:
        with pytest.raises(dnn.UnsupportedError):
            net.setPreferableBackend(getattr(dnn, f"DNN_BACKEND_{name}"))


def test_cv2_dnn_targets_as_documented():
    from caffe_compat import dnn
    _, refused = _not_provided("target")
    assert refused, "the page lists no refused target"
    net = dnn.readNetFromCaffe(str(REPO / "examples" / "quickstart" / "deploy.prototxt"))
    for name in refused:
        with pytest.raises(dnn.UnsupportedError):
            net.setPreferableTarget(getattr(dnn, f"DNN_TARGET_{name}"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the CPU fallbacks warn, as OpenCV does
        for name in ("CPU", "OPENCL", "OPENCL_FP16", "CPU_FP16"):
            net.setPreferableTarget(getattr(dnn, f"DNN_TARGET_{name}"))


def _flag_help(command, flag):
    from caffe_compat.cli.main import _parser
    from caffe_compat.cli.registry import COMMANDS
    parser = _parser(command, "")
    COMMANDS[command].add_arguments(parser)
    action = next(a for a in parser._actions if f"-{flag}" in a.option_strings)
    return action.help


def test_gpu_help_says_what_from_caffe_says():
    import caffe_compat.cli.main  # noqa: F401  (registers the commands)
    page = " ".join(PAGES["from-caffe.md"].split())
    assert "`caffe-compat train -gpu 0,1` (or `-gpu all`) trains data-parallel" in page
    assert "data-parallel" in _flag_help("train", "gpu")
    assert "one is used" not in _flag_help("train", "gpu")
    for command in ("test", "time"):
        assert "the first is used" in _flag_help(command, "gpu"), command


def test_demo_estimate_is_the_one_the_docs_state():
    """The README shows the demo's first line as the program prints it, and the README and
    docs/reproduction.md give its time as "about N minutes" within half a minute of the
    estimate printed (2 quiet cores)."""
    from reproduction import demo
    minutes = demo.estimate_seconds(demo.demo_config("x")) / 60
    shown = re.findall(r"estimated compute ([\d.]+) min", README)
    assert shown == [f"{minutes:.1f}"], (shown, minutes)
    for name, text in (("README.md", README), ("reproduction.md", PAGES["reproduction.md"])):
        stated = re.search(r"the Figure 4 rate-distortion study, in about ([\d.]+) minutes",
                           " ".join(text.split()))
        if stated is None:
            stated = re.search(r"in about ([\d.]+) minutes on 2 quiet CPU cores",
                               " ".join(text.split()))
        assert stated, name
        assert abs(float(stated.group(1)) - minutes) <= 0.5, (name, stated.group(1), minutes)


def test_readme_speed_is_one_dated_sentence_and_the_table_is_in_benchmarks():
    """The README's speed: one sentence naming the machine and date, linking
    docs/benchmarks.md (where every figure has its command); no table in the README. The
    engine table (engine, what runs there, the peer, ours / the peer) opens benchmarks.md's
    "In short", before its dated table per machine."""
    section = README.split("**Speed**", 1)[1].split("\n\n", 1)[0]
    assert "(docs/benchmarks.md#in-short)" in section and re.search(r"20\d\d-\d\d-\d\d", section)
    assert "AMD EPYC" in section
    assert not [line for line in README.splitlines() if line.startswith("| engine ")]
    intro = PAGES["benchmarks.md"].split("## In short", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in intro.split("| date, machine |")[0].splitlines()
            if line.startswith("|")]
    assert rows[0].split("|")[1:5] == [" engine ", " what runs there ", " peer ",
                                       " ours / peer "], rows[0]
    assert 3 <= len(rows) - 2 <= 6, len(rows)
    assert all(re.search(r"\d\.\d\d", row) for row in rows[2:]), rows
    assert "| date, machine |" in intro and re.search(r"\| 20\d\d-\d\d-\d\d, ", intro)
