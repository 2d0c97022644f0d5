"""gflags spellings on top of the project's argparse helpers."""
from __future__ import annotations

import argparse
import sys

from .registry import caffe_flag as _flag

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def bool_flag(parser, name, help_text):
    """A gflags boolean: ``-name``, ``--name``, ``-name=true|false``, ``-noname``."""
    _flag(parser, name, action="store_true", default=False, help=help_text)
    parser.add_argument(f"-no{name}", f"--no{name}", dest=name, action="store_false",
                        help=argparse.SUPPRESS)
    flags = getattr(parser, "_gflags_bools", set())
    flags.add(name)
    parser._gflags_bools = flags
    if not getattr(parser, "_gflags_wrapped", False):
        parser._gflags_wrapped = True
        parse = parser.parse_args

        def parse_args(args=None, namespace=None):
            args = list(sys.argv[1:] if args is None else args)
            return parse(normalise_bools(args, parser._gflags_bools), namespace)

        parser.parse_args = parse_args


def normalise_bools(args, names):
    """Rewrite ``-name=value`` of boolean flags as ``-name`` or ``-noname`` (gflags takes a
    boolean's value only after '=')."""
    out = []
    for a in args:
        stripped = a.lstrip("-")
        if a.startswith("-") and "=" in stripped:
            key, value = stripped.split("=", 1)
            if key.replace("-", "_") in names:
                v = value.lower()
                if v in _TRUE:
                    out.append(f"--{key}")
                    continue
                if v in _FALSE:
                    out.append(f"--no{key.replace('-', '_')}")
                    continue
        out.append(a)
    return out
