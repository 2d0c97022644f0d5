"""``-gpu`` of ``caffe-compat train|test|time`` as Caffe's tool reads it: a GPU that is not there
stops the command with one clear line and status 1 (Caffe's CUDA check fails), unless the CPU
fallback is asked for (``--allow_cpu_fallback`` or ``$CAFFE_COMPAT_ALLOW_CPU_FALLBACK=1``)."""
import pytest
import torch

from caffe_compat.cli.main import main
from caffe_compat.diagnostics.glog import SolverLog
from caffe_compat.errors import CaffeCompatError
from tests.small_training import make_small

COMMANDS = {
    "train": ["train", "-solver", "solver.prototxt", "-iterations", "1"],
    "test": ["test", "-model", "net.prototxt", "-weights", "snap/small_iter_1.caffemodel",
             "-iterations", "1"],
    "time": ["time", "-model", "net.prototxt", "-iterations", "1"],
}


@pytest.fixture
def no_cuda(monkeypatch):
    """A machine without a usable CUDA device (whatever this one has)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.delenv("CAFFE_COMPAT_ALLOW_CPU_FALLBACK", raising=False)


@pytest.fixture
def small(tmp_path, monkeypatch, no_cuda):
    monkeypatch.chdir(make_small(tmp_path, max_iter=1))
    assert main(COMMANDS["train"]) == 0          # the weights `test` scores
    return tmp_path


@pytest.mark.parametrize("command", ["train", "test", "time"])
@pytest.mark.parametrize("flag", ["-gpu=0", "--gpu=all", "-gpu=0,1"])
def test_gpu_without_cuda_is_an_error(small, command, flag, capsys):
    capsys.readouterr()
    assert main(COMMANDS[command] + [flag]) == 1
    err = capsys.readouterr().err
    if command == "train" and flag == "-gpu=0,1":      # data-parallel: the CPU way is --ranks
        assert "no CUDA device is available (GPU 0, 1 missing)" in err and "--ranks 2" in err
    else:
        assert "no usable CUDA device" in err and "--allow_cpu_fallback" in err, err
    assert "Traceback" not in err and "Optimization Done" not in err


@pytest.mark.parametrize("command", ["train", "test", "time"])
def test_cpu_fallback_flag(small, command, capsys):
    capsys.readouterr()
    assert main(COMMANDS[command] + ["-gpu", "0", "--allow_cpu_fallback"]) == 0
    err = capsys.readouterr().err
    assert "no usable CUDA device on this machine (torch sees none): using the CPU" in err


def test_cpu_fallback_environment_variable(small, monkeypatch, capsys):
    monkeypatch.setenv("CAFFE_COMPAT_ALLOW_CPU_FALLBACK", "1")
    capsys.readouterr()
    assert main(COMMANDS["test"] + ["-gpu=0"]) == 0
    assert "using the CPU (CPU fallback asked for)" in capsys.readouterr().err


def _device(flag, monkeypatch, count, allow=False):
    from caffe_compat.cli.main import _device_from_gpu_flag
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.delenv("CAFFE_COMPAT_ALLOW_CPU_FALLBACK", raising=False)
    return _device_from_gpu_flag(flag, SolverLog(stream=None), "caffe.cpp:264",
                                 allow_cpu_fallback=allow)


def test_gpu_ids_parsed_as_caffe_does(monkeypatch):
    assert _device(None, monkeypatch, 2) is None              # no flag: the CPU
    assert _device("1", monkeypatch, 2) == "cuda:1"
    assert _device("1,0", monkeypatch, 2) == "cuda:1"           # the first is used
    assert _device("all", monkeypatch, 2) == "cuda:0"
    with pytest.raises(CaffeCompatError, match="device ids separated by ','"):
        _device("0;1", monkeypatch, 2)


def test_gpu_id_beyond_the_devices_names_the_count(monkeypatch):
    with pytest.raises(CaffeCompatError, match=r"GPU 3 is not there: this machine has 2 CUDA "
                                               r"devices \(ids 0\.\.1\)"):
        _device("3", monkeypatch, 2)
    with pytest.raises(CaffeCompatError, match="has 1 CUDA device "):
        _device("0,1", monkeypatch, 1)
    assert _device("3", monkeypatch, 2, allow=True) is None
