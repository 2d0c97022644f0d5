"""``caffe-compat draw``, ``parse-log`` and ``plot-log``: Caffe's python/draw_net.py,
tools/extra/parse_log.py and plot_training_log.py.example as subcommands."""
from __future__ import annotations

from ..cli.registry import register_command


def _draw_arguments(p):
    p.add_argument("input_net_proto_file", help="net prototxt")
    p.add_argument("output_image_file", help="image file; its extension names the format "
                   "(png, svg, pdf, ...; .raw writes the dot text)")
    p.add_argument("--rankdir", default="LR", help="TB, LR, BT or RL (Graphviz's rankdir)")
    p.add_argument("--phase", default="ALL", choices=["TRAIN", "TEST", "ALL"],
                   help="draw the layers of one phase, or ALL")
    p.add_argument("--display_lrm", "--display-lrm", action="store_true",
                   help="show the lr_mult of Convolution, Deconvolution and InnerProduct")


def run_draw(args):
    from . import draw
    from ..io import prototxt
    # as written (draw upgrades legacy V1 nets itself); errors name the file and line
    net = prototxt.read_net(args.input_net_proto_file, upgrade=False)
    print(f"Drawing net to {args.output_image_file}")
    phase = {"TRAIN": 0, "TEST": 1, "ALL": None}[args.phase]
    draw.draw_net_to_file(net, args.output_image_file, args.rankdir, phase, args.display_lrm)
    return 0


def _parse_log_arguments(p):
    p.add_argument("logfile_path", help="Caffe training log (glog lines)")
    p.add_argument("output_dir", help="folder for <log name>.train and <log name>.test")
    p.add_argument("--verbose", action="store_true", help="name the files written")
    p.add_argument("--delimiter", default=",", help="column delimiter (default ',')")


def run_parse_log(args):
    from . import training_log
    train, test = training_log.parse_log(args.logfile_path)
    written = training_log.save_csv_files(args.logfile_path, args.output_dir, train, test,
                                          delimiter=args.delimiter, verbose=args.verbose)
    if args.verbose:                # parse_log.py's own lines said it
        return 0
    if not written:
        print(f"parse-log: {args.logfile_path} has no training or test rows yet; nothing "
              "written")
        return 0
    rows = dict(zip(written, [len(r) for r in (train, test) if r]))
    print("parse-log: wrote " + ", ".join(f"{path} ({n} rows)" for path, n in rows.items()))
    return 0


def _plot_log_arguments(p):
    from .training_log import supported_chart_types
    kinds = "; ".join(f"{i}: {t}" for i, t in enumerate(supported_chart_types()))
    p.add_argument("chart_type", type=int, help=f"chart type ({kinds})")
    p.add_argument("path_to_png", help="output image (.png)")
    p.add_argument("logs", nargs="+", help="one or more training logs")


def run_plot_log(args):
    from . import training_log
    print(training_log.plot_chart(args.chart_type, args.path_to_png, args.logs))
    return 0


register_command("draw", _draw_arguments, run_draw, "draw a net definition (Graphviz)")
register_command("parse-log", _parse_log_arguments, run_parse_log,
                 "training log -> .train and .test tables (parse_log.py)")
register_command("plot-log", _plot_log_arguments, run_plot_log,
                 "chart a training log (plot_training_log's chart types)")
