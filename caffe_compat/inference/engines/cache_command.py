"""``caffe-compat engine-cache``: what the engine cache holds (the engines' exports, the
torch-free path's trial winners), and emptying it.

    caffe-compat engine-cache [list]        # the folder, its bound, each entry (least recently
                                            # used first): size, last use, net, inputs, outputs
    caffe-compat engine-cache clear         # remove every entry no process is writing now

``--dir FOLDER`` names another cache folder than the configured one. The rules:
:mod:`caffe_compat.onnx_path.cache_store`; ``caffe_compat.cli.main`` registers
:data:`COMMAND` (this module does not import the command line)."""
from __future__ import annotations

import os
import time

from ...onnx_path import cache_store as store
from ...onnx_path.cache_store import ENV_CACHE, cache_root

HELP = "list the engine cache's entries, or clear them"


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0


def _arguments(p):
    p.add_argument("action", nargs="?", choices=("list", "clear"), default="list",
                   help="list (default) or clear")
    p.add_argument("--dir", "-dir", dest="dir", default=None,
                   help=f"the cache folder (default: ${ENV_CACHE}, else "
                        "$XDG_CACHE_HOME/caffe_compat/engines)")


def _run(args):
    root = os.path.abspath(args.dir) if args.dir else cache_root()
    bound = store.size_bound()
    if args.action == "clear":
        removed, freed, left = store.clear(root)
        print(f"{root}: removed {removed} entries, {_size(freed)} freed"
              + (f"; {left} in use by another process stay" if left else ""))
        return 0
    listed = store.entries(root)
    total = sum(e["bytes"] for e in listed)
    limit = _size(bound) if bound else f"no bound ({store.ENV_SIZE}=0)"
    print(f"engine cache {root}: {len(listed)} entries, {_size(total)} of {limit}"
          + ("" if os.path.isdir(root) else " (the folder does not exist yet)"))
    for e in listed:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(e["used"]))
        inputs = ", ".join(f"{n} {'x'.join(str(d) for d in s)}"
                           for n, s in (e.get("inputs") or {}).items())
        print(f"  {e['key'][:16]}  {_size(e['bytes']):>10}  used {used}  "
              f"{e.get('net') or '-'}  [{inputs}] -> {', '.join(e.get('outputs') or [])}")
    return 0


COMMAND = (_arguments, _run, HELP)
