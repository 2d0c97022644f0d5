"""The subcommand table of ``caffe-compat``: name -> :class:`Command`.

A module adds a subcommand with :func:`register_command` (``add_arguments(parser)`` declares
its flags, ``run(args)`` returns the exit status; a CaffeCompatError raised by ``run`` becomes a
one-line error and exit status 1). :mod:`caffe_compat.cli.main` registers train, test, time,
inspect, upgrade and convert, and imports the modules that register the others; those modules
import this table, never the command line itself, so the imports point one way.
"""
from __future__ import annotations

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
