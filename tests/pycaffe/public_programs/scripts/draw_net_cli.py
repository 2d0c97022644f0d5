"""Draw a Caffe net definition with ``caffe.draw``: the NetParameter is read with protobuf's
text format and handed to ``caffe.draw.draw_net_to_file``, which writes whatever Graphviz
format the output's extension names (.png, .svg, .dot, .canon, ...).

    python draw_net_cli.py NET.prototxt OUT.EXT [--direction LR|TB|RL|BT]
        [--phase all|train|test] [--show-lr]

``--phase`` keeps the layers of one phase (Caffe's include/exclude rules), ``--show-lr``
labels the learning layers with their learning-rate multipliers.
"""
import argparse
import sys

from google.protobuf import text_format

import caffe
import caffe.draw
from caffe.proto import caffe_pb2

PHASES = {"all": None, "train": caffe.TRAIN, "test": caffe.TEST}


def options_from(argv):
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("net", help="net definition (prototxt)")
    cli.add_argument("output", help="drawing; its extension picks Graphviz's format")
    cli.add_argument("--direction", default="LR", choices=("LR", "TB", "RL", "BT"),
                     help="Graphviz rankdir: the direction the data flows in")
    cli.add_argument("--phase", default="all", choices=sorted(PHASES),
                     help="draw only the layers of this phase")
    cli.add_argument("--show-lr", action="store_true",
                     help="label learning layers with their lr_mult values")
    return cli.parse_args(argv)


def main(argv=None):
    options = options_from(argv)
    net = caffe_pb2.NetParameter()
    with open(options.net) as f:
        text_format.Parse(f.read(), net)
    print(f"{options.net}: {len(net.layer)} layers; drawing the {options.phase} phase(s) "
          f"{options.direction} into {options.output}")
    caffe.draw.draw_net_to_file(net, options.output, options.direction,
                                PHASES[options.phase], options.show_lr)


if __name__ == "__main__":
    main(sys.argv[1:])
