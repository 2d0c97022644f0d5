"""``caffe-compat time`` on the array engine (:mod:`caffe_compat.array_net`): a net whose
layers it runs (Data from an LMDB or LevelDB, Convolution, Pooling, InnerProduct, ReLU,
SoftmaxWithLoss, ...) on the CPU, without weights to copy or sources to replace, is built and
timed there, so the tool never loads torch; Net::Init's lines, the clean forward and backward
and the timed loop are tools/caffe.cpp's. Any other net, and every net with
``CAFFE_COMPAT_ARRAY_NET=0``, is timed on torch."""
from __future__ import annotations

import os


def time_on_arrays(args, phase, log):
    """Run ``time`` for ``args`` on the array engine and return True, or return False (nothing
    logged) when the array engine does not run this net."""
    if args.gpu or args.weights or args.source or getattr(args, "test_source", None) or \
            os.environ.get("CAFFE_COMPAT_ARRAY_NET", "1").strip() == "0":
        return False
    from ..array_net import build_array_net
    from ..io.prototxt import read_net
    try:
        net_param = read_net(args.model)
    except Exception:          # the torch engine's build reports it
        return False
    net = build_array_net(net_param, phase, args.level, args.stage.split(","), allow_data=True)
    if net is None:
        return False
    # every backward timed as Caffe runs it: weight gradients included, not left for a read
    # that the tool never makes (caffe_compat.array_net.deferred_grads)
    net.deferred.active = False
    try:
        _time(args, phase, log, net, net_param)
    finally:
        net.close()
    return True


def _time(args, phase, log, net, net_param):
    from ..diagnostics.glog import g
    from ..net.summary import log_built_net
    from ..proto import caffe_pb2
    from .layer_timing import array_layer_pass, timed_iterations
    log.info("Use CPU.", "caffe.cpp:343")
    state = caffe_pb2.NetState(phase=caffe_pb2.Phase.Value(phase), level=args.level,
                               stage=[s for s in args.stage.split(",") if s])
    log_built_net(net, log, net_param, state)
    log.info("Performing Forward", "caffe.cpp:351")
    loss = net.forward()
    log.info(f"Initial loss: {g(loss)}", "caffe.cpp:356")
    log.info("Performing Backward", "caffe.cpp:357")
    net.backward()
    timed_iterations(log, [node.name for node in net.nodes], args.iterations,
                     lambda: array_layer_pass(net))
