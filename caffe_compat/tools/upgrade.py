"""Caffe's three upgrade tools (tools/upgrade_net_proto_text.cpp, upgrade_net_proto_binary.cpp,
upgrade_solver_proto_text.cpp), ``caffe-compat upgrade_net_proto_text IN OUT`` and friends: IN
upgraded when in an older format (V0/V1 layers, ``input_dim``, deprecated data-layer fields,
BatchNorm's param specs; the solver's ``solver_type``), written atomically to OUT in the same
encoding; "File already in latest proto format" when nothing was to upgrade, as Caffe says.
The text tools write with protobuf's C++ printer, as Caffe's ``WriteProtoToTextFile``
(:mod:`caffe_compat.io.text_print`: ``lr_mult: 1``, not ``1.0``), so OUT is Caffe's file
byte for byte.
"""
from __future__ import annotations

from ..cli.registry import register_command
from ..io import caffemodel as caffemodel_io
from ..io import prototxt as prototxt_io
from ..io import upgrade as upgrade_io
from ..io.atomic import write_bytes_atomic, write_text_atomic
from ..io.text_print import message_text
from ..cli._log import log


def _tool(name, what_in, what_out, help_text, read, needs_upgrade, upgrade, write, wrote,
          line):
    """Register Caffe's tool ``name``: ``read(path)`` the file as written, ``upgrade(message,
    path)`` it where ``needs_upgrade`` says so (else Caffe's "File already in latest proto
    format" line), ``write(message, path)`` the result and say so (``name``.cpp:``line``)."""
    def add(p):
        p.add_argument("input", help=what_in)
        p.add_argument("output", help=what_out)

    def run(args):
        message = read(args.input)
        if needs_upgrade(message):
            message = upgrade(message, args.input)
        else:
            log(f"File already in latest proto format: {args.input}", "E",
                where=f"{name}.cpp:43")
        write(message, args.output)
        log(f"Wrote upgraded {wrote} to {args.output}", where=f"{name}.cpp:{line}")
        return 0
    register_command(name, add, run, help_text)


_tool("upgrade_net_proto_text", "v0_net_proto_file_in (prototxt)", "net_proto_file_out",
      "a legacy net prototxt rewritten in the current format",
      lambda path: prototxt_io.read_net(path, upgrade=False), upgrade_io.net_needs_upgrade,
      prototxt_io.upgrade_parsed_net, lambda net, path: write_text_atomic(path, message_text(net)),
      "NetParameter text proto", 49)
_tool("upgrade_net_proto_binary", "v0_net_proto_file_in (caffemodel)", "net_proto_file_out",
      "a legacy binary net (caffemodel) in the current format",
      lambda path: caffemodel_io.read_caffemodel(path, upgrade=False),
      upgrade_io.net_needs_upgrade, upgrade_io.upgrade_net,
      lambda net, path: write_bytes_atomic(path, caffemodel_io.caffemodel_bytes(net)),
      "NetParameter binary proto", 48)
_tool("upgrade_solver_proto_text", "old_solver_proto_file_in", "solver_proto_file_out",
      "a legacy solver prototxt in the current format",
      lambda path: prototxt_io.read_solver(path, upgrade=False), upgrade_io.solver_needs_upgrade,
      upgrade_io.upgrade_solver,
      lambda solver, path: write_text_atomic(path, message_text(solver)),
      "SolverParameter text proto", 49)
