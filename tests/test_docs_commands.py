"""Every command the README and docs/ show is real: for each ``caffe-compat``, ``lq-emotion``,
``python -m <module>`` and ``python benchmarks/<script>.py`` command line (in code blocks and
inline code), the subcommand exists and every flag it shows is one that the program's
``--help`` lists. The help texts are collected in one child interpreter (the programs run
in-process there, so torch is imported once)."""
import json
import re
import subprocess
import sys

from tests.conftest import REPO
from caffe_compat.cli.main import _command_first

PAGES = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
# modules whose first word is a subcommand
WITH_SUBCOMMANDS = {"reproduction", "lq_models"}
# programs shown in the docs that are not this project's (their flags are theirs)
OTHERS = {"pytest", "grpc_tools.protoc", "pip", "venv"}
FLAG = re.compile(r"^--?[A-Za-z][\w-]*$")

HELPER = r"""
import contextlib, io, json, runpy, sys
out = {}
for key in json.load(sys.stdin):
    kind, target, sub = key
    argv = ([sub] if sub else []) + ["--help"]
    buf = io.StringIO()
    status = None
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            if kind == "cli":
                from caffe_compat.cli.main import main
                status = main(argv)
            elif kind == "module":
                sys.argv = [target] + argv
                runpy.run_module(target, run_name="__main__", alter_sys=True)
            else:
                sys.argv = [target] + argv
                runpy.run_path(target, run_name="__main__")
    except SystemExit as e:
        status = e.code
    except Exception as e:
        status = f"{type(e).__name__}: {e}"
    out[json.dumps(key)] = [status, buf.getvalue()]
print(json.dumps(out))
"""


def _command_lines(text):
    """Candidate command lines: lines of code blocks (continuations joined) and inline code."""
    lines = []
    for m in re.finditer(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S):
        lines += m.group(1).replace("\\\n", " ").splitlines()
    text = re.sub(r"^```[a-z]*\n.*?^```", "", text, flags=re.M | re.S)
    indented = re.findall(r"(?:^(?: {4}|\t).*\n?)+", text, re.M)
    for block in indented:
        lines += block.replace("\\\n", " ").splitlines()
    lines += [span.replace("\n", " ") for span in re.findall(r"`([^`]+)`", text)]
    return [ln.split(" #", 1)[0].strip() for ln in lines]


def _parse(line):
    """(key, flags) of a command line of ours, or None. key = (kind, target, subcommand)."""
    words = line.split()
    if not words:
        return None
    if words[0] in ("caffe-compat", "lq-emotion"):
        kind, target, rest = (("cli", "caffe-compat", words[1:]) if words[0] == "caffe-compat"
                              else ("module", "reproduction", words[1:]))
    elif words[0] in ("python", "python3") and len(words) > 2 and words[1] == "-m":
        kind, target, rest = "module", words[2], words[3:]
    elif words[0] in ("python", "python3") and len(words) > 1 and words[1].endswith(".py"):
        kind, target, rest = "script", words[1], words[2:]
    else:
        return None
    if target in OTHERS or "<" in target:
        return None
    if kind == "cli":       # flags may stand before the command, as gflags reads them
        rest = _command_first(rest)
    sub = None
    if (kind == "cli" or target in WITH_SUBCOMMANDS) and rest and not rest[0].startswith("-"):
        sub = rest[0].rstrip(".,;:")
        rest = rest[1:]
        if "<" in sub:      # a placeholder: caffe-compat <command> --help
            return None
    flags = set()
    for word in rest:
        for piece in re.split(r"[\[\]|,()]", word):
            piece = piece.split("=", 1)[0]
            if FLAG.match(piece):
                flags.add(piece)
    return (kind, target, sub), flags


def _commands():
    found = {}
    for page in PAGES:
        for line in _command_lines(page.read_text(encoding="utf-8")):
            parsed = _parse(line)
            if parsed:
                key, flags = parsed
                found.setdefault(key, {}).setdefault(page.name, set()).update(flags)
    return found


def test_docs_show_commands_of_each_kind():
    kinds = {key[0] for key in _commands()}
    assert kinds == {"cli", "module", "script"}


def test_every_command_and_flag_in_the_docs_exists():
    commands = _commands()
    keys = sorted(commands, key=lambda k: (k[0], k[1], k[2] or ""))
    for kind, target, _ in keys:
        if kind == "script":
            assert (REPO / target).is_file(), target
    done = subprocess.run([sys.executable, "-c", HELPER], input=json.dumps(keys), cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    helps = json.loads(done.stdout.strip().splitlines()[-1])
    problems = []
    for key in keys:
        status, text = helps[json.dumps(list(key))]
        where = ", ".join(sorted(commands[key]))
        name = " ".join(part for part in key[1:] if part)
        if status not in (0, None):
            problems.append(f"{where}: '{name} --help' failed: {status} {text[-300:]}")
            continue
        known = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", text))
        for page, flags in commands[key].items():
            unknown = sorted(flags - known - {"-h", "--help"})
            if unknown:
                problems.append(f"{page}: '{name}' has no flag {', '.join(unknown)}")
    assert problems == []
