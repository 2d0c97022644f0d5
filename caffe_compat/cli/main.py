"""``caffe-compat``: a drop-in for Caffe 1.0's ``caffe`` command-line tool (tools/caffe.cpp):
``train``, ``test`` and ``time`` here, the other subcommands in the table of
:mod:`caffe_compat.cli.registry` (name -> ``Command``; add one with ``register_command``).

Flags are Caffe's (``-solver``, ``-weights``, ``-snapshot``, ``-model``, ``-iterations``,
``-gpu``, ``-phase``, ``-level``, ``-stage``, ``-sigint_effect``, ``-sighup_effect``), with one
or two dashes, ``=`` or a space. Logs are Caffe's glog lines on stderr (with a tqdm bar while
training when stderr is a terminal). Extra flags run unmodified prototxts whose paths are
placeholders (``--net`` / ``-model``, ``--train-source``, ``--test-source``, ``--source
LAYER=PATH``, ``--snapshot-prefix``) and make runs short (``-iterations`` as max_iter for
train, ``--batch-size``, ``--test-batch-size``, ``--test-iter``). As with gflags, flags may
stand before the command and ``--version`` answers anywhere. Bad input prints one error line and
exits with status 1.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from .registry import COMMANDS, Command, register_command  # noqa: F401  (the public table)
from .registry import caffe_flag as _flag
from . import _pipes, _signals
from ..errors import CaffeCompatError, WeightsMismatchWarning


class _ArgumentParser(argparse.ArgumentParser):
    """Usage errors exit with status 1, as every other bad input (gflags does the same)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(1)


def _parser(name, description):
    return _ArgumentParser(prog=f"caffe-compat {name}", description=description,
                           allow_abbrev=False)


# -gpu, as each command uses it (Caffe's: train runs one solver per GPU, test and time use the
# first; docs/from-caffe.md, "Several devices")
GPU_HELP = {c: f"GPU id(s) separated by ',' or 'all': the first is used, as Caffe's {c} does; "
            "empty: CPU" for c in ("test", "time")}
GPU_HELP["train"] = ("GPU id(s) separated by ',' or 'all': several train data-parallel, one "
                     "process per GPU (effective batch N x batch_size); empty: the solver's "
                     "solver_mode")


def _common_net_flags(parser, command):
    _flag(parser, "gpu", default="", help=GPU_HELP[command])
    _flag(parser, "allow_cpu_fallback", action="store_true",
          help="with -gpu: run on the CPU when the GPU asked for is not there (default: an "
               f"error, as Caffe's); also ${FALLBACK_ENV}=1")
    _flag(parser, "level", type=int, default=0, help="network level")
    _flag(parser, "stage", default="", help="network stages, separated by ','")
    _flag(parser, "source", action="append", default=[], metavar="LAYER=PATH",
          help="HDF5 list file for a data layer, keyed by layer name, by train:LAYER / "
               "test:LAYER (when train and test data layers share a name), or by the original "
               "source string; repeatable")


def _sources(items):
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise CaffeCompatError(f"--source expects LAYER=PATH, got '{item}'")
        out[key] = value
    return out


FALLBACK_ENV = "CAFFE_COMPAT_ALLOW_CPU_FALLBACK"


def _device_from_gpu_flag(flag, log, where, allow_cpu_fallback=False):
    """The torch device of ``-gpu`` for one process, None without the flag. Caffe's rule
    (tools/caffe.cpp get_gpus, then Caffe::SetDevice on the first): ``N``, ``N,M,...`` or
    ``all``; a machine without a usable CUDA device, or an id beyond the devices there, is an
    error, unless ``--allow_cpu_fallback`` (or ``$CAFFE_COMPAT_ALLOW_CPU_FALLBACK=1``) asks
    for the CPU instead, which is then said in the log. ``where``: the Caffe source line that
    reads the flag in this command (tools/caffe.cpp's ``get_gpus(&gpus)``)."""
    if not flag:
        return None
    import os

    import torch

    from ..parallel.launch import gpu_ids
    ids = gpu_ids(flag)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    bad = [i for i in ids if not 0 <= i < count]
    problem = None
    if count == 0:
        problem = f"-gpu {flag}: no usable CUDA device on this machine (torch sees none)"
    elif bad:
        problem = (f"-gpu {flag}: GPU {', '.join(map(str, bad))} is not there: this machine "
                   f"has {count} CUDA device{'' if count == 1 else 's'} (ids 0..{count - 1})")
    if problem is not None:
        if allow_cpu_fallback or os.environ.get(FALLBACK_ENV, "").strip() not in ("", "0"):
            log.info(f"{problem}: using the CPU (CPU fallback asked for)", where)
            return None
        raise CaffeCompatError(f"{problem}; run without -gpu to use the CPU, or add "
                               "--allow_cpu_fallback to fall back to it")
    if len(ids) > 1:
        log.info(f"Not using GPUs {ids[1:]}: one device is used", where)
    return f"cuda:{ids[0]}"


def _make_log(args):
    from ..diagnostics.glog import SolverLog
    files = [open(args.log, "a", encoding="utf-8")] if getattr(args, "log", None) else []
    return SolverLog(stream=sys.stderr, files=files)


# ------------------------------------------------------------------------------------- train
def _train_arguments(parser):
    _flag(parser, "solver", default="", help="the solver definition (prototxt)")
    _flag(parser, "weights", default="", help="pretrained weights to start from, separated "
          "by ','; not with -snapshot")
    _flag(parser, "snapshot", default="", help="a .solverstate to resume training from")
    _flag(parser, "model", "net", default=None, help="train net file replacing the one named "
          "in the solver (Caffe's train ignores -model)")
    _flag(parser, "iterations", type=int, default=None, help="stop after this iteration "
          "(replaces max_iter; Caffe's train ignores -iterations)")
    _flag(parser, "sigint_effect", default="stop", choices=("stop", "snapshot", "none"),
          help="action on SIGINT (Ctrl-C)")
    _flag(parser, "sighup_effect", default="snapshot", choices=("stop", "snapshot", "none"),
          help="action on SIGHUP")
    _common_net_flags(parser, "train")
    parser.add_argument("--train-source", help="HDF5 list file for the train net's data layers")
    parser.add_argument("--test-source", help="HDF5 list file for the test nets' data layers")
    parser.add_argument("--snapshot-prefix", help="replaces snapshot_prefix")
    parser.add_argument("--batch-size", type=int, help="batch_size of the train net's HDF5Data")
    parser.add_argument("--test-batch-size", type=int,
                        help="batch_size of the test nets' HDF5Data")
    parser.add_argument("--test-iter", type=int, help="test_iter of every test net")
    parser.add_argument("--caffe-resume", action="store_true",
                        help="with -snapshot: restart reading data at row 0 as Caffe does "
                             "(default: continue where the snapshot stopped)")
    parser.add_argument("--log", help="also append the log lines to this file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--ranks", type=int, default=None, metavar="N",
                        help="train data-parallel on N CPU processes (gloo), as -gpu does on N "
                             "GPUs: effective batch N x batch_size (see parallel_launch.py)")


def run_train(args):
    if not args.solver:
        raise CaffeCompatError("Need a solver definition to train (-solver).")
    if args.snapshot and args.weights:
        raise CaffeCompatError("Give a snapshot to resume training or weights to finetune but "
                               "not both.")
    from ..parallel import data_parallel as parallel, launch as parallel_launch
    plan = parallel_launch.Plan(args)
    if plan.mode == "launch":
        return parallel_launch.launch(getattr(args, "argv", None) or sys.argv[2:], plan.nproc)
    if plan.mode == "worker":
        parallel_launch.worker_environment()
        device = plan.device()
        parallel.init_process_group(device)
        log = _make_log(args) if parallel.is_root() else parallel_launch.silent_log()
        log.info(f"Rank {plan.rank} of {plan.world} on {device}", "parallel.cpp:333")
    else:
        log = _make_log(args)
        device = _device_from_gpu_flag(args.gpu, log, "caffe.cpp:195", args.allow_cpu_fallback)
    try:
        return _train(args, log, device, plan.mode == "worker")
    except parallel.PeerLost as e:
        print(f"caffe-compat train: error: {e}", file=sys.stderr)
        return parallel.PEER_LOST_EXIT
    finally:
        if plan.mode == "worker":
            parallel.close_process_group()


def _train(args, log, device, data_parallel):
    from ..parallel import data_parallel as parallel
    from ..solvers import get_solver
    from ..diagnostics.glog import stderr_is_terminal
    solver = get_solver(
        args.solver, net=args.model, train_source=args.train_source,
        test_source=args.test_source, snapshot_prefix=args.snapshot_prefix,
        sources=_sources(args.source), device=device,
        weights=args.weights or None, batch_size=args.batch_size,
        test_batch_size=args.test_batch_size, max_iter=args.iterations,
        test_iter=args.test_iter, level=args.level, stages=args.stage.split(","),
        caffe_position=args.caffe_resume, log=log,
        progress=stderr_is_terminal() and not args.no_progress and parallel.is_root())
    # Caffe's train reads neither flag: said where the run differs from Caffe's
    if args.iterations is not None:
        log.info(f"-iterations {args.iterations} replaces the solver's max_iter (Caffe's "
                 "train ignores -iterations and runs to max_iter)", "caffe.cpp:174")
    if args.model is not None:
        log.info(f"-model {args.model} replaces the solver's net (Caffe's train ignores "
                 "-model and trains the solver's net)", "caffe.cpp:174")
    watch = None if data_parallel else _pipes.ReaderWatch()
    with _signals.Signals(args.sigint_effect, args.sighup_effect, watch) as signals:
        if data_parallel:
            parallel.make_parallel(solver, signals.action)
        else:
            solver.set_action_function(signals.action)
        if args.snapshot:
            log.info(f"Resuming from {args.snapshot}", "caffe.cpp:235")
            solver.restore(args.snapshot)
        _pipes.say_hint(args.sigint_effect, solver, log)   # (a worker's log is silent)
        log.info("Starting Optimization", "caffe.cpp:239")
        try:
            solver.solve()
            log.info("Optimization Done.", "caffe.cpp:250")
            return _pipes.report_stop(solver, signals, log)
        finally:
            if watch is not None:
                watch.close()


register_command("train", _train_arguments, run_train, "train or finetune a model")


# -------------------------------------------------------------------------------------- test
def _test_arguments(parser):
    _flag(parser, "model", default="", help="the model definition (prototxt)")
    _flag(parser, "weights", default="", help="the weights to score")
    _flag(parser, "iterations", type=int, default=50, help="number of forward passes")
    _common_net_flags(parser, "test")
    parser.add_argument("--test-source", help="HDF5 list file for every HDF5Data layer")
    parser.add_argument("--log", help="also append the log lines to this file")


# the get_gpus(&gpus) line of test() and time() in tools/caffe.cpp, by their "Use CPU." line
_GET_GPUS = {"caffe.cpp:275": "caffe.cpp:264", "caffe.cpp:343": "caffe.cpp:337"}


def _build_net(args, phase, log, where):
    from ..net import graph
    from ..net.core import Net, load_net_param
    from ..solvers.net_specs import _pick_source
    net_param = load_net_param(args.model)
    stages = args.stage.split(",")
    filtered = graph.filter_net(net_param, phase, args.level, stages)
    sources = _sources(args.source)
    data_sources = {}
    for lp in filtered.layer:
        if lp.type == "HDF5Data":
            src = _pick_source(sources, phase, lp, getattr(args, "test_source", None))
            if src:
                data_sources[lp.name] = src
    device = _device_from_gpu_flag(args.gpu, log, _GET_GPUS[where], args.allow_cpu_fallback)
    if device is None:
        log.info("Use CPU.", where)
    else:
        log.info(f"Use GPU with device ID {device.split(':')[1]}", where)
    net = Net(filtered, phase=phase.lower(), level=args.level, stages=stages,
              data_sources=data_sources)
    from ..net.summary import log_built_net
    from ..proto import caffe_pb2
    state = caffe_pb2.NetState(phase=caffe_pb2.Phase.Value(phase), level=args.level,
                               stage=[s for s in stages if s])
    log_built_net(net, log, net_param, state)
    if device is not None:
        net.to(device)
    return net


def run_test(args):
    import numpy as np
    import torch

    from ..diagnostics.glog import g
    from ..solvers.base import _blob_loss_weights, copy_weights
    if not args.model:
        raise CaffeCompatError("Need a model definition to score (-model).")
    if not args.weights:
        raise CaffeCompatError("Need model weights to score (-weights).")
    log = _make_log(args)
    net = _build_net(args, "TEST", log, "caffe.cpp:275")
    copy_weights(net, args.weights, log)
    n = args.iterations
    log.info(f"Running for {n} iterations.", "caffe.cpp:281")
    weights = _blob_loss_weights(net)
    f32 = np.float32
    scores, names = [], []
    loss = f32(0)
    with torch.no_grad():
        for i in range(n):
            outputs = net.forward()
            loss = f32(loss + (f32(net.loss.item()) if net.loss is not None else f32(0)))
            idx = 0
            for name, value in outputs.items():
                for v in np.asarray(value.float().cpu().numpy(), np.float32).ravel():
                    if i == 0:
                        scores.append(f32(v))
                        names.append(name)
                    else:
                        scores[idx] = f32(scores[idx] + v)
                    log.info(f"Batch {i}, {name} = {g(v)}", "caffe.cpp:304")
                    idx += 1
    loss = f32(loss / f32(n)) if n else loss
    log.info(f"Loss: {g(loss)}", "caffe.cpp:309")
    for name, score in zip(names, scores):
        mean = f32(score / f32(n))
        w = f32(weights.get(name, 0.0))
        extra = f" (* {g(w)} = {g(w * mean)} loss)" if w else ""
        log.info(f"{name} = {g(mean)}{extra}", "caffe.cpp:321")
    return 0


register_command("test", _test_arguments, run_test, "score a model")


# -------------------------------------------------------------------------------------- time
def _time_arguments(parser):
    _flag(parser, "model", default="", help="the model definition (prototxt)")
    _flag(parser, "phase", default="", help="TRAIN (default) or TEST")
    _flag(parser, "iterations", type=int, default=50, help="number of timed iterations")
    _flag(parser, "weights", default="", help="optional weights")
    _common_net_flags(parser, "time")
    parser.add_argument("--test-source", help="HDF5 list file for every HDF5Data layer")
    parser.add_argument("--log", help="also append the log lines to this file")
    parser.add_argument("--engine", nargs="?", const="all", default=None,
                        help="time whole TEST-phase inference forwards on this engine (torch, "
                             "onnxruntime, openvino; no name: every installed one) beside "
                             "torch's, each checked against our forward first "
                             "(docs/engines.md)")
    parser.add_argument("--batch", type=int, default=1, help="items per forward with --engine")


def _engines_report(definition, weights, names=None, iterations=5, batch=1):
    """The table of whole inference forwards per engine (caffe_compat.inference.engines)."""
    from ..inference.engines.report import engine_rows, format_rows
    from ..net.core import Net
    net = Net(definition, weights=weights, phase="test")
    return format_rows(engine_rows(net, names, iterations, batch), batch)


def run_time(args):
    """Caffe's ``time`` (tools/caffe.cpp): a clean forward and backward first, so that the
    timed iterations find their memory and code ready, then ``-iterations`` timed iterations
    of per-layer forward and backward (each layer run on its own inputs, as Caffe's
    layer-by-layer loop does); every average is over the timed iterations only. A net the
    array engine runs is timed there (:mod:`caffe_compat.cli.array_timing`: no torch loaded).
    On torch, Caffe's clean pass runs the very calls its loop times; ours runs the net's
    forward and backward and then one untimed iteration of the loop, whose own calls (one
    autograd call per layer; torch's first one imports a module, 340 ms) would otherwise be
    paid by the first timed iteration."""
    from ..diagnostics.glog import g
    from .array_timing import time_on_arrays
    from .layer_timing import layer_pass, timed_iterations
    if not args.model:
        raise CaffeCompatError("Need a model definition to time (-model).")
    if args.engine:         # whole inference forwards per engine
        from ..inference.engines import installed_engines
        names = installed_engines() if args.engine == "all" else \
            list(dict.fromkeys(["torch", args.engine]))
        print(_engines_report(args.model, args.weights or None, names, args.iterations,
                              args.batch))
        return 0
    phase = args.phase or "TRAIN"
    if phase not in ("TRAIN", "TEST"):
        raise CaffeCompatError('phase must be "TRAIN" or "TEST"')
    log = _make_log(args)
    if time_on_arrays(args, phase, log):
        return 0
    import torch

    from ..solvers.base import copy_weights
    net = _build_net(args, phase, log, "caffe.cpp:343")
    if args.weights:
        copy_weights(net, args.weights, log)
    inputs_of = {}
    hooks = []
    for node, key, _, _ in net._nodes:
        module = net.layers[key]

        def hook(mod, inputs, outputs, _name=node.name):
            inputs_of[_name] = inputs
        hooks.append(module.register_forward_hook(hook))
    log.info("Performing Forward", "caffe.cpp:351")
    net.forward()
    for h in hooks:
        h.remove()
    # every layer, in the net's order, as Caffe lists them (an Input layer is never called)
    captured = [(node.name, net.layers[key], inputs_of.get(node.name))
                for node, key, _, _ in net._nodes]
    loss = float(net.loss.item()) if net.loss is not None else 0.0
    log.info(f"Initial loss: {g(loss)}", "caffe.cpp:356")
    log.info("Performing Backward", "caffe.cpp:357")
    if net.loss is not None and net.loss.requires_grad:
        net.backward()
    sync = torch.cuda.synchronize if net._ref.device.type == "cuda" else (lambda: None)
    layer_pass(captured, sync)                   # the loop's own calls, untimed (docstring)
    timed_iterations(log, [name for name, _, _ in captured], args.iterations,
                     lambda: layer_pass(captured, sync))
    return 0


register_command("time", _time_arguments, run_time, "benchmark model execution time")


# ------------------------------------------------------------------------ file tools
def _inspect_arguments(p):
    p.add_argument("weights", help="caffemodel file, or a net definition (prototxt)")
    _flag(p, "model", help="net definition to check the weights against (refused if they do "
                           "not fit); gives the blob shapes and FLOPs")
    _flag(p, "phase", default=None, choices=["TRAIN", "TEST"], type=str.upper,
          help="phase the net is built in (default TEST; the net stored in a caffemodel: the "
               "phase it was built in, TRAIN for a training snapshot)")
    _flag(p, "max_bytes", type=int, default=None, help="refuse larger files (default 2 GiB - 1)")
    p.add_argument("--engines", action="store_true",
                   help="also say which inference engines are installed, which would run "
                        "this net (checked against our forward) and their time per forward "
                        "(docs/engines.md)")


def run_inspect(args):
    from ..tools import files as tools
    from ..io import caffemodel as caffemodel_io
    from ..net.architectures import describe_architecture   # the installed describers'
    from ..net.signature import check_compatible
    try:
        with open(args.weights, "rb") as f:
            text = caffemodel_io.looks_like_text(f.read(65536))
    except OSError:
        text = False                     # reported by the caffemodel reader with its reason
    if text:
        print(tools.net_report(args.weights, args.phase or "TEST", source=args.weights))
        if args.engines:
            print(_engines_report(args.weights, None))
        return 0
    summary = tools.caffemodel_summary(args.weights, args.max_bytes)
    print(tools.format_summary(summary, describe_architecture(summary["net_param"])))
    if args.model:
        check_compatible(args.model, args.weights)
        print(f"fits the net definition {args.model}")
    print(tools.caffemodel_net_report(summary, args.model, args.phase))
    if args.engines:
        if not args.model:
            raise CaffeCompatError("inspect --engines needs the net definition of the weights "
                                   "(-model deploy.prototxt)")
        print(_engines_report(args.model, args.weights))
    return 0


register_command("inspect", _inspect_arguments, run_inspect,
                 "layers, blob shapes, parameters, FLOPs and memory of a caffemodel or net")


def _upgrade_arguments(p):
    p.add_argument("source", help="legacy prototxt (V0/V1 layers, input_dim, ...), solver "
                                  "prototxt (solver_type) or caffemodel")
    p.add_argument("target", help="where to write the upgraded file")


def run_upgrade(args):
    """upgrade_net_proto_text / _binary / upgrade_solver_proto_text, chosen by the file: the
    same file in the current format."""
    from ..tools import files as tools
    from ..io import caffemodel as caffemodel_io
    from ..io import prototxt as prototxt_io
    with open(args.source, "rb") as f:
        head = f.read(65536)
    if (caffemodel_io.looks_like_text(head) and
            prototxt_io.is_solver_text(prototxt_io.read_text_file(args.source))):
        if not tools.upgrade_solver_prototxt(args.source, args.target):
            print(f"File already in latest proto format: {args.source}", file=sys.stderr)
        print(f"Wrote upgraded SolverParameter to {args.target}")
        return 0
    if caffemodel_io.looks_like_text(head):
        tools.upgrade_prototxt(args.source, args.target)
    else:
        caffemodel_io.write_caffemodel(caffemodel_io.read_caffemodel(args.source), args.target)
    print(f"Wrote upgraded NetParameter to {args.target}")
    return 0


register_command("upgrade", _upgrade_arguments, run_upgrade,
                 "rewrite a legacy net/solver prototxt or caffemodel in the current format")


def _convert_arguments(p):
    p.add_argument("source", help="a .caffemodel, or a PyTorch state_dict file (.pt/.pth)")
    p.add_argument("target", help="the converted file: .pt/.pth or .caffemodel")
    _flag(p, "model", help="net definition (needed to write a caffemodel from a state_dict)")


def run_convert(args):
    """caffemodel -> state_dict (keys ``<layer>.<blob>``), or state_dict + net -> caffemodel."""
    from ..tools import files as tools
    from ..errors import WeightsError
    if args.target.endswith(".caffemodel"):
        if not args.model:
            raise WeightsError(f"{args.target}: writing a caffemodel from a state_dict needs "
                               "the net definition (-model NET.prototxt)")
        sd = tools.load_state_dict_file(args.source)
        tools.state_dict_to_caffemodel(sd, args.model, args.target)
    else:
        sd = tools.caffemodel_to_state_dict(args.source)
        tools.save_state_dict(sd, args.target)
    print(f"Wrote {args.target}")
    return 0


register_command("convert", _convert_arguments, run_convert,
                 "caffemodel <-> PyTorch state_dict file")


# -------------------------------------------------------------------------------------- main
def _usage():
    lines = ["usage: caffe-compat <command> <args>", "       caffe-compat --version", "",
             "commands:"]
    width = max(map(len, COMMANDS))          # the longest name, then two spaces
    lines += [f"  {name:<{width}}  {cmd.help}" for name, cmd in sorted(COMMANDS.items())]
    return "\n".join(lines)


def register_tools():
    """Add Caffe's other tools (compute_image_mean, convert_imageset, device_query,
    extract_features, the upgrade tools, draw, parse-log, plot-log, doctor, precision) and
    export to the table."""
    from ..tools import (compute_image_mean, convert_imageset, device_query,  # noqa: F401
                         extract_features, upgrade, extra, doctor, layer_table, precision_report)
    from ..export.command import COMMAND as export_command
    register_command("export", *export_command)


VERSION_FLAGS = ("--version", "-version")


def _command_first(argv):
    """``argv`` with the command moved to the front: gflags reads flags wherever they stand,
    so Caffe runs ``caffe -gpu 0 train -solver s.prototxt`` as ``caffe train -gpu 0 ...``. The
    command is the first known name that is not the value of the flag before it (a flag
    without ``=`` takes the next word)."""
    if not argv or not argv[0].startswith("-") or argv[0] in ("-h", "--help", "-help"):
        return argv
    register_tools()
    for i, word in enumerate(argv):
        previous = argv[i - 1] if i else ""
        takes_it = previous.startswith("-") and "=" not in previous
        if word in COMMANDS and not takes_it:
            return [word] + argv[:i] + argv[i + 1:]
    return argv


def main(argv=None):
    """Entry point: ``caffe-compat <command> [flags]``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in VERSION_FLAGS for a in argv):      # gflags: --version wherever it stands
        from .. import __version__
        print(f"caffe-compat {__version__} (the command line of caffe version 1.0.0)")
        return 0
    argv = _command_first(argv)
    if not argv or argv[0] not in COMMANDS:
        # Caffe's other tools register themselves when imported; a command of this module
        # (train, test, time, ...) does without their imports (tqdm, image readers)
        register_tools()
    if not argv or argv[0] not in COMMANDS:
        # engine-cache, the usage or an unknown name: the engines' package loads torch, which
        # the other commands (time on the array engine) do without
        from ..inference.engines.cache_command import COMMAND as engine_cache_command
        register_command("engine-cache", *engine_cache_command)
    if not argv or argv[0] in ("-h", "--help", "-help", "help"):
        print(_usage(), file=sys.stderr if not argv else sys.stdout)
        return 0 if argv else 1
    name, rest = argv[0], argv[1:]
    cmd = COMMANDS.get(name)
    if cmd is None:
        print(f"caffe-compat: unknown command '{name}'\n{_usage()}", file=sys.stderr)
        return 1
    parser = _parser(name, cmd.help)
    cmd.add_arguments(parser)
    args = parser.parse_args(rest)
    args.argv = list(rest)      # data-parallel workers run the same command line
    # a command runs as Caffe's tool does, in a process of its own: the C library's rand(),
    # which HDF5Data's shuffle draws from, starts at srand(1) (main() called again in-process)
    from ..data.caffe_random import LIBC_RAND
    LIBC_RAND.seed(1)
    try:
        with warnings.catch_warnings():
            # weights that do not cover a net: the log's W line says it once; appended, this
            # filter leaves -W / PYTHONWARNINGS error::...WeightsMismatchWarning in force
            warnings.filterwarnings("ignore", category=WeightsMismatchWarning, append=True)
            return int(cmd.run(args) or 0)
    except CaffeCompatError as e:
        print(f"caffe-compat {name}: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        where = f" '{e.filename}'" if getattr(e, "filename", None) else ""
        print(f"caffe-compat {name}: error:{where} {e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"caffe-compat {name}: interrupted", file=sys.stderr)
        return 130


from ..verify import command as _verify  # noqa: E402  (imports nothing of this module)

register_command("verify", _verify.add_arguments, _verify.run_verify, _verify.HELP)
