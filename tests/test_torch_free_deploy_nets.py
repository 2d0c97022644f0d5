"""Every public deploy net of the tests runs pycaffe's forward (``import caffe``: the array
engine) and cv2.dnn's forward (``caffe_compat.dnn``: the torch-free path) in a process that
never imports torch, with the torch engine's outputs within the tolerance below.

Nets: the deploy definitions of ``../shared/public-nets`` (the zoo, the cv2.dnn programs', the
benchmarks'), the MTCNN cascade's four nets with their trained weights
(``../shared/models/mtcnn``), and the nets of the one-shot programs built by the tests (the
res10 SSD, SqueezeNet 1.1). Seeded weights (He-uniform, BatchNorm and Scale near identity)
where no trained ones ship. The nets with hundreds of MB of weights run under ``-m slow``.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import SHARED, public_input

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# float32 sums in another order than the torch engine's, through up to a hundred layers (the
# deepest ResNet), on seeded weights: the roundings stay below 1e-4 of the outputs' scale
TOL = 1e-4
# the nets of more than about 40 MB of weights (their reference build and forward take seconds)
SLOW = ("alexnet", "caffenet", "vgg19", "rcnn", "flickr", "fcn8s", "inception_bn_21k",
        "inception_v3", "resnet101", "resnet50_deploy", "resnext50", "hed", "bvlc_caffe")


def _cases():
    """The nets, each definition once (the benchmarks' CaffeNet and GoogLeNet and the
    programs' GoogLeNet are the zoo's files byte for byte)."""
    found, seen = [], set()
    for folder, pattern in (("public-nets/zoo/models", "deploy"), ("public-nets/dnn_programs", ""),
                            ("public-nets/benchmark_nets", ""), ("models/mtcnn", "det")):
        top = SHARED / folder
        if not top.is_dir():
            continue
        for path in sorted(top.rglob("*.prototxt")):
            text = path.read_bytes()
            if pattern in path.name and text not in seen:
                seen.add(text)
                found.append(str(path.relative_to(SHARED)))
    found += ["built:res10_ssd", "built:squeezenet11"]
    return [pytest.param(c, marks=pytest.mark.slow) if any(s in c for s in SLOW) else c
            for c in found]


CHILD = r"""
import json, sys
import numpy as np
case = json.load(open(sys.argv[1]))
import caffe
caffe.set_mode_cpu()
net = caffe.Net(case["prototxt"], caffe.TEST, weights=case["caffemodel"])
for name, path in case["inputs"].items():
    x = np.load(path)
    net.blobs[name].reshape(*x.shape)
    net.blobs[name].data[...] = x
got = net.forward(blobs=case["outputs"])
for k, b in enumerate(case["outputs"]):
    np.save(case["dir"] + f"/pycaffe-{k}.npy", got[b])
assert "torch" not in sys.modules, "pycaffe's forward imported torch"
from caffe_compat import dnn
dnet = dnn.readNetFromCaffe(case["prototxt"], case["caffemodel"])
for name, path in case["inputs"].items():
    dnet.setInput(np.load(path), name)
got = dnet.forward(case["outputs"])
for k, a in enumerate(got):
    np.save(case["dir"] + f"/dnn-{k}.npy", a)
assert "torch" not in sys.modules, "cv2.dnn's forward imported torch"
print(json.dumps([dnet.engine, getattr(net, "engine", "array" if net._arrays is not None else "torch")]))
"""


def _files(case, tmp_path):
    """(prototxt, caffemodel) of a case: the public definition with seeded weights, or the
    MTCNN files as they ship, or a test-built net."""
    from caffe_compat import Net
    from tests.caffe_compat.opencv_fixtures.nets import fill_weights
    if case.startswith("built:"):
        from tests.caffe_compat.dnn import nets, zoo_nets
        text, blobs = nets.res10_ssd() if case.endswith("ssd") else zoo_nets.squeezenet11()
        proto, model = tmp_path / "net.prototxt", tmp_path / "net.caffemodel"
        proto.write_text(text)
        model.write_bytes(nets.caffemodel_bytes(text, blobs, seed=0))
        return str(proto), str(model)
    if case.startswith("models/mtcnn"):
        proto = public_input(*case.split("/"))
        return str(proto), str(proto)[:-len(".prototxt")] + ".caffemodel"
    proto = public_input(*case.split("/"))
    net = Net(str(proto), phase="test", seed=1)
    fill_weights(net, 1)
    model = tmp_path / "net.caffemodel"
    net.save(str(model))
    return str(proto), str(model)


@pytest.mark.parametrize("case", _cases() or ["public-nets"])
def test_deploy_net_runs_without_torch(case, tmp_path):
    import torch

    from caffe_compat import Net
    if case == "public-nets":
        public_input("public-nets")
    proto, model = _files(case, tmp_path)
    ref = Net(proto, model, phase="test")
    rng = np.random.default_rng(0)
    inputs, feed = {}, {}
    for name in ref.inputs:      # one item (the declared batches run to 10,000)
        shape = (1,) + tuple(ref.blob_shape(name))[1:]
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        feed[name] = torch.from_numpy(x)
        inputs[name] = str(tmp_path / f"in-{len(inputs)}.npy")
        np.save(inputs[name], x)
    outputs = list(ref.outputs)
    with torch.no_grad():
        want = ref.forward(blobs=outputs, **feed)
    spec = tmp_path / "case.json"
    spec.write_text(json.dumps({"prototxt": proto, "caffemodel": model, "inputs": inputs,
                                "outputs": outputs, "dir": str(tmp_path)}))
    env = dict(os.environ, PYTHONPATH=REPO, CAFFE_COMPAT_TORCH_FREE="auto")
    env.pop("CAFFE_COMPAT_ARRAY_NET", None)
    run = subprocess.run([sys.executable, "-W", "ignore", "-c", CHILD, str(spec)], env=env,
                         capture_output=True, text=True, timeout=900, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == ["torch-free", "array"]
    for k, b in enumerate(outputs):
        w = want[b].detach().numpy().astype(np.float64)
        scale = float(np.abs(w).max()) or 1.0
        for side in ("pycaffe", "dnn"):
            got = np.load(tmp_path / f"{side}-{k}.npy")
            assert got.shape == w.shape, (side, b, got.shape, w.shape)
            err = float(np.abs(got - w).max()) / scale
            assert err <= TOL, (side, b, err)
