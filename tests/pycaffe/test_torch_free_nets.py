"""Deploy nets that pycaffe runs on the array engine without loading torch: MTCNN's four nets
(PReLU, Slice, Concat, Pooling, InnerProduct, Softmax) against the torch engine, and a net
whose fillers only torch draws (msra, gaussian), read with its weights, left unfilled."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.conftest import public_input

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# the array engine's float32 arithmetic against torch's: sums in another order
RTOL = 1e-5


def _run(code, *args, env=None):
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                         capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=REPO, **(env or {})))
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


# pycaffe in a fresh process: the outputs of a forward on a seeded input, saved to a .npz,
# and whether torch was imported
FORWARD = """
    import sys
    import numpy as np
    import caffe
    proto, weights, out = sys.argv[1], sys.argv[2], sys.argv[3]
    caffe.set_mode_cpu()
    net = caffe.Net(proto, caffe.TEST, weights=weights or None)
    rng = np.random.default_rng(11)
    feed = {n: rng.uniform(-1, 1, net.blobs[n].data.shape).astype(np.float32)
            for n in net.inputs}
    got = net.forward(**feed)
    np.savez(out, **{k: np.array(v) for k, v in got.items()}, **{"in_" + k: v
                                                                 for k, v in feed.items()})
    print("torch" in sys.modules)
"""


def _reference(proto, weights, feed):
    import caffe_compat
    net = caffe_compat.Net(str(proto), weights=str(weights), phase="test")
    out = net.forward(**feed)
    return {k: v.detach().numpy() for k, v in out.items()}


@pytest.mark.parametrize("name", ["det1", "det2", "det3", "det4"])
def test_mtcnn_runs_without_torch_and_equals_the_torch_engine(name, tmp_path):
    proto = public_input("models", "mtcnn", f"{name}.prototxt")
    weights = public_input("models", "mtcnn", f"{name}.caffemodel")
    out = tmp_path / "out.npz"
    assert _run(FORWARD, proto, weights, out).strip() == "False", "torch was imported"
    got = dict(np.load(out))
    feed = {k[3:]: v for k, v in got.items() if k.startswith("in_")}
    want = _reference(proto, weights, feed)
    assert set(want) == {k for k in got if not k.startswith("in_")}
    for k, v in want.items():
        np.testing.assert_allclose(got[k], v, rtol=RTOL, atol=RTOL * float(np.abs(v).max()),
                                   err_msg=k)


NET = """name: "fills"
input: "data" input_shape { dim: 2 dim: 3 dim: 6 dim: 6 }
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1"
  convolution_param { num_output: 4 kernel_size: 3
    weight_filler { type: "msra" } bias_filler { type: "uniform" min: -0.1 max: 0.1 } } }
layer { name: "p1" type: "PReLU" bottom: "c1" top: "c1" }
layer { name: "c2" type: "Convolution" bottom: "c1" top: "c2"
  convolution_param { num_output: 3 kernel_size: 2
    weight_filler { type: "xavier" } bias_filler { type: "constant" value: 0.2 } } }
layer { name: "fc" type: "InnerProduct" bottom: "c2" top: "fc"
  inner_product_param { num_output: 5
    weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""

# the parameters and the output of the net, with or without a weights file, after a seed
FILLS = """
    import json, sys
    import numpy as np
    import caffe
    proto, weights = sys.argv[1], sys.argv[2]
    caffe.set_random_seed(5)
    net = caffe.Net(proto, caffe.TEST, weights=weights or None)
    shapes = {k: [p.shape for p in v] for k, v in net.params.items()}
    loaded = "torch" in sys.modules
    x = np.linspace(-1, 1, 2 * 3 * 6 * 6, dtype=np.float32).reshape(2, 3, 6, 6)
    prob = net.forward(data=x)["prob"]
    params = {k: [p.data.tolist() for p in v] for k, v in net.params.items()}
    print(json.dumps({"loaded": loaded, "after": "torch" in sys.modules,
                      "prob": prob.tolist(), "params": params}))
"""


def test_torch_drawn_fillers_wait_for_a_weights_file(tmp_path):
    """With weights the msra and gaussian fills are never drawn: no torch; without, the net
    moves to torch on its first forward and holds the values torch's engine draws from the
    start (CAFFE_COMPAT_ARRAY_NET=0), the uniform and xavier ones included."""
    proto = tmp_path / "fills.prototxt"
    proto.write_text(NET)
    import caffe_compat
    ref = caffe_compat.Net(str(proto), phase="test", seed=9)
    weights = tmp_path / "fills.caffemodel"
    ref.save(str(weights))
    x = np.linspace(-1, 1, 2 * 3 * 6 * 6, dtype=np.float32).reshape(2, 3, 6, 6)
    want = ref.forward(data=x)["prob"].detach().numpy()

    with_weights = json.loads(_run(FILLS, proto, weights))
    assert not with_weights["loaded"] and not with_weights["after"], "torch was imported"
    np.testing.assert_allclose(np.array(with_weights["prob"]), want, rtol=1e-5, atol=1e-7)

    deferred = json.loads(_run(FILLS, proto, ""))
    today = json.loads(_run(FILLS, proto, "", env={"CAFFE_COMPAT_ARRAY_NET": "0"}))
    assert not deferred["loaded"] and deferred["after"]
    assert deferred["params"] == today["params"]
    np.testing.assert_allclose(np.array(deferred["prob"]), np.array(today["prob"]),
                               rtol=1e-6, atol=1e-8)


FORKS = """name: "forks"
input: "data" input_shape { dim: 2 dim: 4 dim: 9 dim: 8 }
layer { name: "dw" type: "ConvolutionDepthwise" bottom: "data" top: "dw"
  convolution_param { num_output: 4 kernel_size: 3 stride: 2 pad: 1 group: 4 } }
layer { name: "swish" type: "Swish" bottom: "dw" top: "swish" swish_param { beta: 1.5 } }
layer { name: "mish" type: "Mish" bottom: "swish" top: "mish" }
layer { name: "pw" type: "Convolution" bottom: "mish" top: "pw"
  convolution_param { num_output: 6 kernel_size: 1 } }
layer { name: "relu" type: "ReLU" bottom: "pw" top: "pw" }
layer { name: "best" type: "ArgMax" bottom: "pw" top: "best" argmax_param { axis: 1 } }
layer { name: "top3" type: "ArgMax" bottom: "pw" top: "top3"
  argmax_param { top_k: 3 out_max_val: true } }
layer { name: "up" type: "Interp" bottom: "pw" top: "up" interp_param { zoom_factor: 3 } }
"""

DNN_FORWARD = """
    import sys
    import numpy as np
    from caffe_compat import dnn
    proto, weights, out = sys.argv[1], sys.argv[2], sys.argv[3]
    net = dnn.readNetFromCaffe(proto, weights)
    x = np.load(out + ".in.npy")
    net.setInput(x)
    best, top3, up = net.forward(["best", "top3", "up"])
    np.savez(out, best=best, top3=top3, up=up)
    print("torch" in sys.modules, net._torch_free is not None)
"""


def test_fork_layers_run_without_torch_and_equal_the_torch_engine(tmp_path):
    """ConvolutionDepthwise, Swish, Mish, ArgMax (ties among the ReLU's zeros: the larger
    index first) and Interp through pycaffe's forward and cv2.dnn's, each in a process that
    never imports torch."""
    import caffe_compat
    proto = tmp_path / "forks.prototxt"
    proto.write_text(FORKS)
    weights = tmp_path / "forks.caffemodel"
    caffe_compat.Net(str(proto), phase="test", seed=3).save(str(weights))
    out = tmp_path / "pycaffe.npz"
    assert _run(FORWARD, proto, weights, out).strip() == "False", "torch was imported"
    got = dict(np.load(out))
    feed = {"data": got["in_data"]}
    want = _reference(proto, weights, feed)
    assert (want["top3"][:, 1] == 0).any(), "no ties among the ranked values"
    for k in ("best", "top3", "up"):
        np.testing.assert_allclose(got[k], want[k], rtol=RTOL,
                                   atol=RTOL * float(np.abs(want[k]).max()), err_msg=k)
    out = tmp_path / "dnn.npz"
    np.save(str(out) + ".in.npy", feed["data"])
    assert _run(DNN_FORWARD, proto, weights, out).split() == ["False", "True"]
    got = dict(np.load(out))
    for k in ("best", "top3", "up"):
        np.testing.assert_allclose(got[k].reshape(want[k].shape), want[k], rtol=RTOL,
                                   atol=RTOL * float(np.abs(want[k]).max()), err_msg=k)
