"""The module surface of ``caffe``: constants, mode functions, layer types, Timer, the proto
module, unsupported functions, and what ``import caffe`` costs."""
import os
import subprocess
import sys
import textwrap
import time

import pytest
from google.protobuf import text_format

import caffe
from tests.conftest import public_input

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_phases_and_version():
    from caffe.proto import caffe_pb2
    assert (caffe.TRAIN, caffe.TEST) == (caffe_pb2.TRAIN, caffe_pb2.TEST) == (0, 1)
    assert caffe.__version__ == "1.0.0"


def test_layer_type_list_has_the_standard_types():
    # pycaffe's test_layer_type_list: the list holds the usual types and no duplicates
    types = caffe.layer_type_list()
    for t in ("Convolution", "InnerProduct", "Pooling", "ReLU", "Softmax", "Python", "Input"):
        assert t in types
    assert len(types) == len(set(types))


def test_mode_functions():
    caffe.set_mode_cpu()
    caffe.set_device(0)
    caffe.set_random_seed(3)
    caffe.init_log()
    caffe.init_log(0, True)
    caffe.log("a message")
    caffe.set_solver_count(1)
    caffe.set_solver_rank(0)
    caffe.set_multiprocess(False)
    assert caffe.solver_count() == 1 and caffe.solver_rank() == 0
    assert caffe.has_nccl() is True


def test_random_seed_before_torch_is_loaded():
    """Caffe::set_random_seed in a program that has not loaded torch loads none; the first net
    built on torch draws from that seed (its weights equal those drawn after
    torch.manual_seed); a later seed before it replaces it. A fresh process: this one has
    torch."""
    code = textwrap.dedent("""
        import sys
        import caffe
        caffe.set_random_seed(5)
        caffe.set_random_seed(11)
        assert "torch" not in sys.modules
        import caffe_compat
        import torch
        NET = ('input: "x" input_shape { dim: 1 dim: 2 } layer { name: "ip" '
               'type: "InnerProduct" bottom: "x" top: "y" inner_product_param { '
               'num_output: 3 weight_filler { type: "gaussian" } } }')
        first = caffe_compat.Net(NET).params["ip"][0].detach().clone()
        torch.manual_seed(11)
        assert torch.equal(first, caffe_compat.Net(NET).params["ip"][0].detach())
        caffe.set_random_seed(12)                 # torch loaded: seeded at once
        second = torch.rand(3)
        torch.manual_seed(12)
        assert torch.equal(second, torch.rand(3))
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=REPO), timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]


@pytest.mark.cpu_mode
def test_gpu_mode_without_cuda_is_a_clear_error(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: GPU mode works")
    path = tmp_path / "n.prototxt"
    path.write_text("input: 'x' input_shape { dim: 1 dim: 2 }")
    caffe.set_mode_gpu()
    try:
        with pytest.raises(caffe_compat_error(), match="set_mode_cpu"):
            caffe.Net(str(path), caffe.TEST)
    finally:
        caffe.set_mode_cpu()


def caffe_compat_error():
    from caffe_compat.errors import CaffeCompatError
    return CaffeCompatError


def test_nccl_uid_is_a_rendezvous_in_bytes():
    """pycaffe's new_uid gives bytes under Python 3 (its own test_nccl.py checks the type)."""
    uid = caffe.NCCL.new_uid()
    assert isinstance(uid, bytes) and uid.startswith(b"tcp://127.0.0.1:")


def test_timer():
    t = caffe.Timer()
    t.start()
    time.sleep(0.01)
    t.stop()
    assert 5 < t.ms < 1000


def test_proto_module_is_the_engines_and_reads_text():
    from caffe.proto import caffe_pb2
    import caffe.proto.caffe_pb2 as same
    import caffe_compat.proto.caffe_pb2 as engine
    assert caffe_pb2 is same is engine is caffe.proto.caffe_pb2
    net = caffe_pb2.NetParameter()
    text_format.Merge('name: "n" layer { name: "a" type: "ReLU" bottom: "x" top: "x" }', net)
    assert net.layer[0].type == "ReLU"
    solver = caffe_pb2.SolverParameter()
    text_format.Merge("base_lr: 0.01 lr_policy: 'step'", solver)
    assert abs(solver.base_lr - 0.01) < 1e-9


def test_str_of_a_message_prints_as_pycaffe():
    # pycaffe (protobuf's C++ printer) writes float fields as Python's str of the value
    from caffe.proto import caffe_pb2
    lp = caffe_pb2.LayerParameter(name="l", loss_weight=[0.7, 1.0])
    lp.python_param.param_str = "{'k': 1}"
    assert str(lp) == ('name: "l"\nloss_weight: 0.699999988079071\nloss_weight: 1.0\n'
                       'python_param {\n  param_str: "{\\\'k\\\': 1}"\n}\n')


def test_import_caffe_is_cheap_and_lazy():
    # the acceptance figure: `import caffe` < 1.5 s in a fresh process; torch is not imported
    code = ("import sys, time; t = time.perf_counter(); import caffe; "
            "print(time.perf_counter() - t, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    seconds, torch_loaded = out.stdout.split()
    assert torch_loaded == "False"
    assert float(seconds) < 1.5


def test_a_net_imports_no_data_library_it_does_not_use():
    # h5py (~0.2 s) and OpenCV (~0.1 s) are imported by the layers that read HDF5 files and
    # images, on first use, not by every program that builds a net
    code = ("import sys, caffe; caffe.Net; import caffe.io; "
            "n = caffe.Net(sys.argv[1], caffe.TEST); n.forward(); "
            "print(sorted({'h5py', 'cv2', 'lmdb', 'skimage', 'scipy'} & set(sys.modules)))")
    net = public_input("public-nets", "benchmark_nets", "caffenet_deploy.prototxt")
    out = subprocess.run([sys.executable, "-c", code, str(net)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_the_engine_never_imports_caffe():
    import pathlib
    import re
    root = pathlib.Path(__file__).resolve().parents[2] / "caffe_compat"
    pattern = re.compile(r"^\s*(import caffe\b(?!_compat)|from caffe\b(?!_compat))", re.M)
    offenders = [str(p) for p in root.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_pycaffe_module_names():
    from caffe._caffe import Net as A
    from caffe.pycaffe import Net as B
    assert A is B is caffe.Net
    assert caffe.pycaffe.SGDSolver is caffe.SGDSolver
    assert caffe._caffe.layer_type_list is caffe.layer_type_list
