"""``python -m lq_models``: list the zoo, show an entry, identify and register weights files.

    python -m lq_models list
    python -m lq_models show joint-4
    python -m lq_models table                      # the paper's Table 1, with the citation
    python -m lq_models identify W.caffemodel [...]
    python -m lq_models register W.caffemodel --as hr [--replace] [--force]
    python -m lq_models unregister hr|SHA256|W.caffemodel
    python -m lq_models registry                   # where the registry is and what it holds
    python -m lq_models check deploy.prototxt W.caffemodel
    python -m lq_models published                  # published weights the nets start from
    python -m lq_models fetch resnet50-imagenet [--from FILE] [--sha256 HEX] [--dir D]

Bad input prints one error line and exits with status 1.
"""
from __future__ import annotations

import argparse
import sys

from caffe_compat.errors import CaffeCompatError

from . import pretrained as _published
from . import registry as _registry
from . import zoo as _zoo
from .identify import check_compatible, identify


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(1)


def _fmt_s(s):
    return "-" if s is None else str(s)


def cmd_list(args):
    rows = [("key", "model", "net", "s", "Table 1 rows")]
    for e in _zoo.entries(args.architecture):
        table = ", ".join(f"s={_fmt_s(s)} {m}" for s, m in e.table1) or "-"
        if len(e.table1) > 2:
            table = f"{e.table1[0][1]} at s = " + ", ".join(_fmt_s(s) for s, _ in e.table1)
        rows.append((e.key, e.name, "CNN+D" if e.architecture == "cnnd" else "SR-FCN",
                     _fmt_s(e.factor) if e.data.get("kind") != "mix" else "3,4,6", table))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4])
    print(f"\n{len(rows) - 1} entries. Source: {_zoo.paper_citation()}")
    return 0


def cmd_show(args):
    for key in args.keys:
        print(_zoo.get(key).summary())
    return 0


def cmd_table(args):
    t = _zoo.paper_table()
    print(f"{t['table']} of {_zoo.paper_citation()}\n{t['what']}\n")
    print(f"{'s':>3}  {'method':<13} {'RMSE':>6} {'CC':>6} {'CCC':>6}")
    for r in t["rows"]:
        print(f"{_fmt_s(r['s']):>3}  {r['method']:<13} {r['rmse']:6.3f} {r['cc']:6.3f} "
              f"{r['ccc']:6.3f}")
    return 0


def cmd_identify(args):
    for i, path in enumerate(args.weights):
        if i:
            print()
        print(identify(path, registry=args.registry).format())
    return 0


def cmd_register(args):
    rec = _registry.register(args.weights, args.key, path=args.registry, replace=args.replace,
                             force=args.force)
    print(f"registered {rec['path']} as '{rec['key']}' (sha256 {rec['sha256']}) in "
          f"{rec['registry']}")
    return 0


def cmd_unregister(args):
    removed = _registry.unregister(args.what, path=args.registry)
    path = args.registry or _registry.registry_path()
    for h in removed:
        print(f"removed {h} from {path}")
    return 0


def cmd_registry(args):
    path = args.registry or _registry.registry_path()
    files = _registry.read_registry(path)
    print(f"registry: {path} ({len(files)} file(s); set {_registry.ENV_VAR} to use another)")
    for digest, rec in files.items():
        print(f"  {rec['key']:<12} {digest}  {rec.get('path', '')}")
    return 0


def cmd_check(args):
    ignored = check_compatible(args.model, args.weights)
    extra = f" (file layers the net ignores: {', '.join(ignored)})" if ignored else ""
    print(f"{args.weights} fits {args.model}{extra}")
    return 0


def cmd_published(args):
    models = _published.published()
    for i, m in enumerate(models):
        print(("\n" if i else "") + f"{m.key}: {m.name}\n  {m.citation}\n  {m.purpose}")
        print(f"  layer names: {m.layout}; mean (B, G, R): "
              f"{', '.join(f'{v:g}' for v in m.mean_bgr)}; page: {m.page}")
        for f in m.files:
            checks = ", ".join(f"{a} {h}" for a, h in f.checksums.items()) or "none published"
            print(f"  {f.role}: {f.name} ({checks})")
            if f.checksum_from:
                print(f"    checksum from: {'; '.join(f.checksum_from)}")
            for url in f.urls:
                print(f"    {url}")
        if m.note:
            print(f"  {m.note}")
    folder = _published.weights_dir()         # this command fetches nothing: say what is there
    fetched = [m.key for m in models if all((folder / m.key / f.name).is_file() for f in m.files)]
    print(f"\n`python -m lq_models fetch KEY` downloads into {folder} (set "
          f"{_published.ENV_DIR} to use another folder); fetched there: "
          f"{', '.join(fetched) or 'none yet'}.")
    return 0


def cmd_fetch(args):
    paths = _published.fetch(args.key, folder=args.dir, source=args.source, sha256=args.sha256)
    for role, path in paths.items():
        print(f"{role}: {path}")
    return 0


def build_parser():
    parser = _Parser(prog="python -m lq_models", description=(
        "Model zoo of Cheng et al. 2017: the paper's models, their net definitions, and "
        "naming a weights file."))
    parser.add_argument("--registry", default=None, help=(
        f"registry file (default: ${_registry.ENV_VAR}, else the user's config folder)"))
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("list", help="list the zoo's entries")
    p.add_argument("--architecture", choices=("cnnd", "srfcn"), default=None)
    p.set_defaults(run=cmd_list)
    p = sub.add_parser("show", help="everything about entries")
    p.add_argument("keys", nargs="+")
    p.set_defaults(run=cmd_show)
    p = sub.add_parser("table", help="the paper's Table 1 and its citation")
    p.set_defaults(run=cmd_table)
    p = sub.add_parser("identify", help="architecture and candidate entries of caffemodels")
    p.add_argument("weights", nargs="+")
    p.set_defaults(run=cmd_identify)
    p = sub.add_parser("register", help="record a caffemodel's sha256 as a zoo entry")
    p.add_argument("weights")
    p.add_argument("--as", dest="key", required=True, help="zoo key, e.g. hr or joint-4")
    p.add_argument("--replace", action="store_true",
                   help="re-register a file that is registered under another key")
    p.add_argument("--force", action="store_true",
                   help="register although the training net stored in the file contradicts "
                        "the key (e.g. a joint-net snapshot named hr)")
    p.set_defaults(run=cmd_register)
    p = sub.add_parser("unregister", help="forget a registered file (key, sha256 or path)")
    p.add_argument("what")
    p.set_defaults(run=cmd_unregister)
    p = sub.add_parser("registry", help="show the registry")
    p.set_defaults(run=cmd_registry)
    p = sub.add_parser("check", help="does a caffemodel fit a net definition?")
    p.add_argument("model", help="net prototxt")
    p.add_argument("weights", help="caffemodel")
    p.set_defaults(run=cmd_check)
    p = sub.add_parser("published", help="published weights the project's nets start from "
                                         "(URLs, checksums)")
    p.set_defaults(run=cmd_published)
    p = sub.add_parser("fetch", help="download a published model's files and verify their "
                                     "published checksums")
    p.add_argument("key", help="e.g. resnet50-imagenet (see `published`)")
    p.add_argument("--from", dest="source", default=None,
                   help="a file you downloaded yourself (named as published), verified and "
                        "put in place instead of downloading")
    p.add_argument("--sha256", default=None,
                   help="a sha256 you trust, checked too (required where none is published)")
    p.add_argument("--dir", default=None,
                   help=f"folder to fetch into (default: ${_published.ENV_DIR}, else the "
                        "user's cache folder)")
    p.set_defaults(run=cmd_fetch)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CaffeCompatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
