"""Helpers for the pycaffe tests: nets written to temporary files, as pycaffe's tests do.

``python -m pytest tests/pycaffe --pycaffe-gpu=standin`` runs every test of this directory in
GPU mode on the device stand-in (``caffe._mode.use_device_standin``: the device copies are
second CPU tensors kept by Caffe's SyncedMemory rule), ``--pycaffe-gpu=device`` on the CUDA
device: ``caffe.set_mode_gpu()`` before each test and ``set_mode_cpu()`` made a no-op during
it, so that every program here, written for CPU mode, runs on host and device copies and must
give the same values (docs/from-pycaffe.md, "GPU mode: host and device copies"). Programs the
tests start in another process keep their own mode."""
import pytest


@pytest.fixture(autouse=True)
def _gpu_mode_on_standin(monkeypatch, request):
    """With ``--pycaffe-gpu``: the test runs in GPU mode, on the stand-in or the device."""
    gpu = request.config.getoption("--pycaffe-gpu")
    if gpu == "off":
        yield
        return
    import caffe
    from caffe import _mode
    standin = _mode._state["standin"]
    _mode.use_device_standin(gpu == "standin")
    _mode.set_mode_gpu()
    monkeypatch.setattr(caffe, "set_mode_cpu", lambda: None)
    monkeypatch.setattr(_mode, "set_mode_cpu", lambda: None)
    yield
    _mode._state["mode"] = "cpu"
    _mode.use_device_standin(standin)


@pytest.fixture
def net_file(tmp_path):
    """``net_file(text)`` -> path of a prototxt holding ``text``."""
    counter = [0]

    def write(text, name=None):
        counter[0] += 1
        path = tmp_path / (name or f"net{counter[0]}.prototxt")
        path.write_text(text)
        return str(path)
    return write
