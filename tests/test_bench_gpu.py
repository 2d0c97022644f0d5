"""benchmarks/bench_gpu.py as a smoke test on the CPU (``--device cpu --quick``, MobileNet at
64x64, a CNN+D batch of 4): every row of its table is there and none failed. The ratios
themselves are measured on a GPU by hand (docs/benchmarks.md)."""
import torch

from tests.conftest import public_input


def test_bench_gpu_prints_every_row_on_the_cpu(capsys):
    from benchmarks import bench_gpu
    nets = public_input("public-nets", "zoo", "models", "mobilenet_v1_deploy.prototxt")
    original = public_input("original", "experiments", "solver", "solver_1F_CNN+D.prototxt")
    table = bench_gpu.main(["--device", "cpu", "--quick", "--models", "mobilenet", "--size",
                            "64", "--nets", str(nets.parents[2]),
                            "--original", str(original.parents[2])])
    names = [name for name, _, _, _ in table.rows]
    for precision in ("float32", "bfloat16", "float16"):
        for batch in (1, 2):
            assert f"forward MobileNet v1 b{batch} {precision}: Net / hand-written" in names
    for batch in (1, 2):
        assert f"forward MobileNet v1 b{batch} float32 uncaptured: Net / hand-written" in names
    # cuDNN's autotuner, the user's process-wide switch, at the largest batch only
    assert "forward MobileNet v1 b2 float32 cudnn.benchmark: Net / hand-written" in names
    assert not any(name.startswith("forward MobileNet v1 b1 float32 cudnn") for name in names)
    assert torch.backends.cudnn.benchmark is False
    assert sum(name.startswith("cv2.dnn MobileNet v1") for name in names) == 2
    assert any(name.startswith("pycaffe MobileNet v1 b1") for name in names)
    assert any(name.startswith("train CNN+D b4") for name in names)
    for name, ours, ref, note in table.rows:
        if name.startswith("pycaffe") and not torch.cuda.is_available():
            assert note.startswith("skipped: no CUDA device")
            continue
        if name.startswith("launches") and not torch.cuda.is_available():
            assert note.startswith("skipped: kernel launches are counted on a CUDA device")
            continue
        assert ours is not None and ours > 0 and ref > 0, (name, note)
    out = capsys.readouterr().out
    assert "weights: seeded random" in out and "ratio" in out.splitlines()[2]
