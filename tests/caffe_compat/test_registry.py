"""The one registry of layer types and engines: every engine's own list of the types it
claims is the registry's, and ``caffe-compat layers`` prints the table."""
import subprocess
import sys

from caffe_compat.rules import registry


def test_each_engines_list_is_the_registrys():
    import caffe_compat
    from caffe_compat import onnx_path as lite
    from caffe_compat.array_net import registered_types as array_types
    from caffe_compat.export import converter_types, emitter_types
    from caffe_compat.inference import fast_layers
    from caffe_compat.array_solver import loop
    assert caffe_compat.registered_types() == registry.types("torch")
    assert array_types() == registry.types("array")
    assert converter_types() == registry.types("onnx")
    assert emitter_types() == registry.types("pytorch-source")
    assert sorted(fast_layers.REPLACERS) == registry.types("fast")
    assert sorted(loop.EMITTERS) == registry.types("array-loop")
    assert set(lite.supported_types()) == set(registry.types("lite")) | set(
        registry.types("lite-host"))


def test_every_engine_runs_only_types_the_reference_knows():
    reference = set(registry.types("torch"))
    for engine in (*registry.ENGINES, *registry.COSTS):
        assert set(registry.types(engine)) <= reference, engine


def test_the_cost_tables_are_the_registrys_and_no_engines():
    """OpenCV's getFLOPS counts and the summary's FLOPs are read from the registry's cost
    tables, which the table of engines (and the conformance grid reading it) leaves out."""
    from caffe_compat.dnn import flops
    from caffe_compat.net import summary
    assert not set(registry.COSTS) & set(registry.ENGINES)
    assert registry.implementation("opencv-flops", "Convolution") is flops._convolution
    assert registry.implementation("summary-flops", "Convolution") is summary._conv
    assert registry.implementation("opencv-flops", "Concat") is None
    assert flops.layer_flops("Concat", None, [(1, 2)], [(1, 2)], []) == 0
    engines = {e for have in registry.table().values() for e in have}
    assert engines == set(registry.ENGINES)
    costs = registry.table(registry.COSTS)
    assert costs["Convolution"] == list(registry.COSTS) and "Concat" not in costs


def test_a_second_registration_needs_replace():
    import pytest
    first = object()
    registry.add("fast", "GridTestType", first)
    try:
        with pytest.raises(ValueError, match="already registered"):
            registry.add("fast", "GridTestType", object())
        assert registry.entries("fast").get("GridTestType") is first
    finally:
        registry.entries("fast").pop("GridTestType", None)


def test_the_command_prints_the_table():
    done = subprocess.run([sys.executable, "-m", "caffe_compat.cli", "layers"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == [*registry.ENGINES, "|", *registry.COSTS]
    row = next(line for line in lines if line.startswith("Convolution "))
    assert row.split()[1:3] == ["x", "x"]          # torch and array run it
    assert row.split()[-3:] == ["|", "x", "x"]     # both cost tables count it
    one = subprocess.run([sys.executable, "-m", "caffe_compat.cli", "layers", "Pooling"],
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    assert "counted by: opencv-flops, summary-flops" in one.stdout
    assert "lite: honours" in one.stdout and "refuses (another engine runs it) pool" in \
        one.stdout


def test_the_command_says_which_engine_runs_a_net(tmp_path):
    """``caffe-compat layers NET.prototxt``: the engine of pycaffe's forward and of cv2.dnn's,
    and why the torch engine runs a net the others refuse."""
    head = ('name: "n"\ninput: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
            'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
            'convolution_param { num_output: 4 kernel_size: 3 } }\n')
    runs = tmp_path / "runs.prototxt"
    runs.write_text(head + 'layer { name: "p" type: "PReLU" bottom: "c" top: "c" }\n')
    refused = tmp_path / "refused.prototxt"
    refused.write_text(head + 'layer { name: "e" type: "SigmoidCrossEntropyLoss" bottom: "c" '
                       'bottom: "c" top: "e" }\n')
    got = {}
    for path in (runs, refused):
        done = subprocess.run([sys.executable, "-m", "caffe_compat.cli", "layers", str(path)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        got[path.stem] = done.stdout
    assert "pycaffe forward (caffe.Net, TEST): array engine" in got["runs"]
    assert "cv2.dnn forward: torch-free path" in got["runs"]
    assert ("pycaffe forward (caffe.Net, TEST): torch engine (layer type "
            "SigmoidCrossEntropyLoss)") in got["refused"]
    assert ("cv2.dnn forward: torch path (no torch-free converter for SigmoidCrossEntropyLoss)"
            in got["refused"])
    # the device and precision of each forward, with the default settings
    for stem, pycaffe in (("runs", "CPU (numpy)"), ("refused", "CPU (torch; caffe.set_mode_gpu() "
                                                             "puts it on CUDA)")):
        lines = got[stem].splitlines()
        at = next(k for k, line in enumerate(lines) if line.startswith("pycaffe forward"))
        assert lines[at + 1] == f"  device: {pycaffe}; precision: float32", lines
        at = next(k for k, line in enumerate(lines) if line.startswith("cv2.dnn forward"))
        assert lines[at + 1].startswith("  device: CPU (DNN_TARGET_CPU") and \
            lines[at + 1].endswith("; precision: float32"), lines
        assert lines[-1].startswith("cv2.dnn with DNN_TARGET_CPU_FP16 here: "), lines


def test_the_command_says_what_cpu_fp16_computes_in_here(monkeypatch):
    """DNN_TARGET_CPU_FP16: the reduced precision OpenVINO computes in on this processor, or
    float32 (with a warning) where it has none."""
    from caffe_compat.onnx_path import reduced
    from caffe_compat.tools import layer_table
    monkeypatch.setattr(reduced, "capability", lambda: ("bf16", "BF16 listed"))
    assert layer_table._cpu_fp16_line().startswith(
        "cv2.dnn with DNN_TARGET_CPU_FP16 here: bfloat16 on OpenVINO (BF16 listed); "
        "net.quantize(...): int8")
    monkeypatch.setattr(reduced, "capability", lambda: (None, "no bf16 / fp16 arithmetic"))
    assert "here: float32, with a warning (no bf16 / fp16 arithmetic)" in \
        layer_table._cpu_fp16_line()
