"""``caffe-compat layers``: the layer types and the engines that run each (the table of
:mod:`caffe_compat.rules.registry`), or one type's row with the fields each engine honours."""
from __future__ import annotations

from ..cli.registry import register_command


def _arguments(p):
    p.add_argument("type", nargs="?", help="one layer type: its engines and, where declared, "
                                           "what each does with its parameter fields")


def run(args):
    from ..rules import registry
    if not args.type:
        print(registry.format_table())
        return 0
    table = registry.table()
    if args.type not in table:
        from ..diagnostics.suggest import did_you_mean
        from ..errors import NetError
        hint = did_you_mean(args.type, table)
        raise NetError(f"unknown layer type '{args.type}'" + (f"; {hint}" if hint else ""))
    from ..rules.fields import declared
    print(f"{args.type}: {', '.join(table[args.type])}")
    for (engine, type_name), use in sorted(declared().items()):
        if type_name != args.type:
            continue
        print(f"  {engine}: honours {', '.join(sorted(use.honours - use.refuses)) or '-'}")
        if use.refuses:
            print(f"  {' ' * len(engine)}  refuses (another engine runs it) "
                  f"{', '.join(sorted(use.refuses))}")
        for name, why in sorted(use.no_effect.items()):
            print(f"  {' ' * len(engine)}  {name}: no effect ({why})")
    return 0


register_command("layers", _arguments, run,
                 "the layer types and the engines that run each (one type: its fields)")
