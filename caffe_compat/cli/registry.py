"""The subcommand table of ``caffe-compat``: name -> :class:`Command`.

A module adds a subcommand with :func:`register_command` (``add_arguments(parser)`` declares
its flags, ``run(args)`` returns the exit status; a CaffeCompatError raised by ``run`` becomes a
one-line error and exit status 1). :mod:`caffe_compat.cli.main` registers train, test, time,
inspect, upgrade and convert, and imports the modules that register the others; those modules
import this table, never the command line itself, so the imports point one way.

Flags are spelled as Caffe's gflags: :func:`caffe_flag` (``-name`` or ``--name``) and
:func:`bool_flag` (booleans, also ``-name=true|false`` and ``-noname``).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable

COMMANDS: dict = {}


@dataclass
class Command:
    add_arguments: Callable
    run: Callable
    help: str


def register_command(name, add_arguments, run, help_text):
    """Make ``caffe-compat <name>`` call ``run(args)`` with the flags of ``add_arguments``."""
    COMMANDS[name] = Command(add_arguments, run, help_text)


def caffe_flag(parser, name, *aliases, **kwargs):
    """A Caffe flag accepted as ``-name``, ``--name`` (and with dashes for underscores); the
    help shows Caffe's spelling first."""
    spellings = []
    for n in (name,) + aliases:
        for form in dict.fromkeys((n, n.replace("_", "-"))):
            spellings += [f"-{form}", f"--{form}"]
    kwargs.setdefault("dest", name.replace("-", "_"))
    parser.add_argument(*dict.fromkeys(spellings), **kwargs)


# gflags' spellings of a boolean's value
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def bool_flag(parser, name, help_text):
    """A gflags boolean: ``-name``, ``--name``, ``-name=true|false``, ``-noname``."""
    caffe_flag(parser, name, action="store_true", default=False, help=help_text)
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
