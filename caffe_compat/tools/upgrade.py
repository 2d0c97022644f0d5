"""Caffe's three upgrade tools (tools/upgrade_net_proto_text.cpp, upgrade_net_proto_binary.cpp,
upgrade_solver_proto_text.cpp): ``caffe-compat upgrade_net_proto_text IN OUT`` and friends.

Each reads IN, upgrades it when it is in an older format (V0/V1 layers, ``input_dim``,
deprecated data-layer fields, BatchNorm's param specs; the solver's ``solver_type`` enum) and
writes OUT in the same encoding, saying "File already in latest proto format" when nothing
was to be upgraded, as Caffe does. Outputs are written atomically.
"""
from __future__ import annotations

from ..cli.registry import register_command
from ..io import caffemodel as caffemodel_io
from ..io import prototxt as prototxt_io
from ..io import upgrade as upgrade_io
from ..io.atomic import write_bytes_atomic
from ..cli._log import log


def _io_arguments(what_in, what_out):
    def add(p):
        p.add_argument("input", help=what_in)
        p.add_argument("output", help=what_out)
    return add


def run_net_text(args):
    text = prototxt_io.read_text_file(args.input)
    raw = prototxt_io.parse_net(text, args.input, upgrade=False)
    if upgrade_io.net_needs_upgrade(raw):
        net = prototxt_io.parse_net(text, args.input)
    else:
        log(f"File already in latest proto format: {args.input}", "E",
            where="upgrade_net_proto_text.cpp:43")
        net = raw
    prototxt_io.write_prototxt(net, args.output)
    log(f"Wrote upgraded NetParameter text proto to {args.output}",
        where="upgrade_net_proto_text.cpp:49")
    return 0


def run_net_binary(args):
    raw = caffemodel_io.read_caffemodel(args.input, upgrade=False)
    if upgrade_io.net_needs_upgrade(raw):
        net = upgrade_io.upgrade_net(raw, args.input)
    else:
        log(f"File already in latest proto format: {args.input}", "E",
            where="upgrade_net_proto_binary.cpp:43")
        net = raw
    write_bytes_atomic(args.output, caffemodel_io.caffemodel_bytes(net))
    log(f"Wrote upgraded NetParameter binary proto to {args.output}",
        where="upgrade_net_proto_binary.cpp:48")
    return 0


def run_solver_text(args):
    text = prototxt_io.read_text_file(args.input, "solver")
    raw = prototxt_io.parse_solver(text, args.input, upgrade=False)
    if upgrade_io.solver_needs_upgrade(raw):
        solver = prototxt_io.parse_solver(text, args.input)
    else:
        log(f"File already in latest proto format: {args.input}", "E",
            where="upgrade_solver_proto_text.cpp:43")
        solver = raw
    prototxt_io.write_prototxt(solver, args.output)
    log(f"Wrote upgraded SolverParameter text proto to {args.output}",
        where="upgrade_solver_proto_text.cpp:49")
    return 0


register_command("upgrade_net_proto_text",
                 _io_arguments("v0_net_proto_file_in (prototxt)", "net_proto_file_out"),
                 run_net_text, "a legacy net prototxt rewritten in the current format")
register_command("upgrade_net_proto_binary",
                 _io_arguments("v0_net_proto_file_in (caffemodel)", "net_proto_file_out"),
                 run_net_binary, "a legacy binary net (caffemodel) in the current format")
register_command("upgrade_solver_proto_text",
                 _io_arguments("old_solver_proto_file_in", "solver_proto_file_out"),
                 run_solver_text, "a legacy solver prototxt in the current format")
