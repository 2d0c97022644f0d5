"""A deploy net of every element-wise and shape layer the array engine and the torch-free
dnn path run (Sigmoid ... ShuffleChannel, Swish, Mish, Deconvolution): pycaffe's forward and
backward and cv2.dnn's forward, each in a process of its own, import no torch and equal the
torch engine."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]

# float32 element-wise functions (libm's against torch's, a few ulp each) composed through
# 19 layers, MVN's and the reductions' sums of 48 to 384 values in another order: below 1e-5
# of each blob's scale
TOL = 1e-5

NET = """name: "chain"
force_backward: true
layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 1 dim: 6 dim: 6 dim: 6 } } }
layer { name: "ref" type: "Input" top: "ref" input_param { shape { dim: 1 dim: 6 dim: 8 dim: 8 } } }
layer { name: "sig" type: "Sigmoid" bottom: "data" top: "sig" }
layer { name: "tanh" type: "TanH" bottom: "sig" top: "tanh" }
layer { name: "thr" type: "Threshold" bottom: "tanh" top: "thr" threshold_param { threshold: 0.6 } }
layer { name: "sc" type: "Power" bottom: "tanh" top: "sc" power_param { scale: 4 shift: -2.5 } }
layer { name: "elu" type: "ELU" bottom: "sc" top: "sc" elu_param { alpha: 0.5 } }
layer { name: "abs" type: "AbsVal" bottom: "tanh" top: "abs" }
layer { name: "bnll" type: "BNLL" bottom: "abs" top: "bnll" }
layer { name: "relu6" type: "ReLU6" bottom: "bnll" top: "relu6" }
layer { name: "pow" type: "Power" bottom: "sc" top: "pow" power_param { power: 2 scale: 0.5 shift: 1 } }
layer { name: "exp" type: "Exp" bottom: "pow" top: "exp" exp_param { base: 2 scale: -0.5 } }
layer { name: "log" type: "Log" bottom: "exp" top: "log" log_param { shift: 0.5 } }
layer { name: "clip" type: "Clip" bottom: "log" top: "clip" clip_param { min: -0.3 max: 0.3 } }
layer { name: "swish" type: "Swish" bottom: "clip" top: "swish" swish_param { beta: 1.5 } }
layer { name: "mish" type: "Mish" bottom: "swish" top: "mish" }
layer { name: "deconv" type: "Deconvolution" bottom: "mish" top: "deconv"
  convolution_param { num_output: 6 kernel_size: 2 stride: 2 group: 2
    weight_filler { type: "uniform" min: -1 max: 1 } bias_filler { type: "uniform" min: -1 max: 1 } } }
layer { name: "crop" type: "Crop" bottom: "deconv" bottom: "ref" top: "crop" crop_param { offset: 1 } }
layer { name: "perm" type: "Permute" bottom: "crop" top: "perm" permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "shuffle" type: "ShuffleChannel" bottom: "perm" top: "shuffle" shuffle_channel_param { group: 2 } }
layer { name: "tile" type: "Tile" bottom: "shuffle" top: "tile" tile_param { tiles: 2 } }
layer { name: "mvn" type: "MVN" bottom: "tile" top: "mvn" }
layer { name: "reshape" type: "Reshape" bottom: "mvn" top: "reshape" reshape_param { shape { dim: 0 dim: 0 dim: -1 } } }
layer { name: "red" type: "Reduction" bottom: "reshape" top: "red" reduction_param { operation: ASUM axis: 2 coeff: 0.5 } }
"""

PYCAFFE = r"""
import json, sys
import numpy as np
import caffe
net = caffe.Net(sys.argv[1], caffe.TEST, weights=sys.argv[2])
assert net._arrays is not None, "the array engine did not take the net"
feed = np.load(sys.argv[3])
for name in ("data", "ref"):
    net.blobs[name].data[...] = feed[name]
net.forward()
net.blobs["red"].diff[...] = feed["top_diff"]
net.backward()
np.savez(sys.argv[4], red=net.blobs["red"].data, thr=net.blobs["thr"].data,
         relu6=net.blobs["relu6"].data, data_diff=net.blobs["data"].diff)
print(json.dumps({"torch": "torch" in sys.modules}))
"""

DNN = r"""
import json, sys
import numpy as np
from caffe_compat import dnn
net = dnn.readNetFromCaffe(sys.argv[1], sys.argv[2])
feed = np.load(sys.argv[3])
for name in ("data", "ref"):
    net.setInput(feed[name], name)
red, thr, relu6 = net.forward(["red", "thr", "relu6"])
np.savez(sys.argv[4], red=red, thr=thr, relu6=relu6)
print(json.dumps({"torch": "torch" in sys.modules,
                  "path": "torch-free" if net._torch_free is not None else "torch"}))
"""


def _close(got, want, what):
    want = np.asarray(want, np.float64)
    scale = float(np.abs(want).max()) or 1.0
    err = float(np.abs(np.asarray(got, np.float64) - want).max()) / scale
    assert err <= TOL, (what, err)


def _run(program, tmp_path, out, env_extra=None):
    env = dict(os.environ, PYTHONPATH=str(REPO), **(env_extra or {}))
    run = subprocess.run([sys.executable, "-W", "ignore", "-c", program,
                          str(tmp_path / "net.prototxt"), str(tmp_path / "w.caffemodel"),
                          str(tmp_path / "feed.npz"), str(tmp_path / out)],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    with np.load(tmp_path / out) as saved:
        return report, dict(saved)


def test_the_chain_runs_without_torch_and_equals_the_torch_engine(tmp_path):
    import caffe_compat
    import torch
    from caffe_compat.net.stepwise import Stepwise
    (tmp_path / "net.prototxt").write_text(NET)
    ref = caffe_compat.Net(str(tmp_path / "net.prototxt"), phase="test", seed=4)
    ref.save(str(tmp_path / "w.caffemodel"))
    rng = np.random.default_rng(8)
    feed = {"data": rng.normal(0, 1.5, (1, 6, 6, 6)).astype(np.float32),
            "ref": np.zeros((1, 6, 8, 8), np.float32),
            "top_diff": rng.normal(0, 1, (1, 16)).astype(np.float32)}
    np.savez(tmp_path / "feed.npz", **feed)
    store = Stepwise(ref)
    for name in ("data", "ref"):
        store.data[name][...] = torch.from_numpy(feed[name])
    store.forward()
    store.diff_of("red")[...] = torch.from_numpy(feed["top_diff"])
    store.backward()
    want = {key: store.data[key].numpy() for key in ("red", "thr", "relu6")}
    want["data_diff"] = store.diff_of("data").numpy()
    assert np.abs(want["data_diff"]).max() > 0

    report, got = _run(PYCAFFE, tmp_path, "pycaffe.npz")
    assert report == {"torch": False}
    for key, value in want.items():
        _close(got[key], value, f"pycaffe {key}")

    report, got = _run(DNN, tmp_path, "dnn.npz")
    assert report == {"torch": False, "path": "torch-free"}
    for key in ("red", "thr", "relu6"):
        _close(got[key].reshape(want[key].shape), want[key], f"dnn {key}")
