#!/usr/bin/env bash
# GPU mode on a machine with a CUDA device, in one run of a few minutes (well under 8 on one
# GPU): every test marked `cuda` (GPU mode's memory rule on the device, the inference plan's
# folds, the training feed, CUDA against CPU for nets and solvers; they skip without a device),
# every test of tests/pycaffe after caffe.set_mode_gpu() on the device (--pycaffe-gpu=device;
# those that check CPU mode itself skip), the pycaffe programs of tests/pycaffe/public_programs
# in GPU mode compared with their CPU outputs (benchmarks/gpu_programs.py), pycaffe's own
# test suite (BVLC Caffe's python/caffe/test, from the source tree $CAFFE_SRC names) after
# caffe.set_mode_gpu() on the device (benchmarks/pycaffe_own_suite.py), then
# `caffe-compat test -gpu 0` against the CPU.
#
#     CAFFE_SRC=PATH benchmarks/gpu_check.sh     # from the repository root, in the project's venv
#
# Public inputs come from ../shared or $RLQ_SHARED, as the tests read them. Exit status: 0 when
# every part passes; the first failing part stops the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ ! -d "${CAFFE_SRC:-/nonexistent}/python/caffe/test" ]; then
  echo "gpu_check.sh: set CAFFE_SRC to a BVLC Caffe source tree (pycaffe's own suite, part 2b)" >&2
  exit 2
fi
python -c "import six" 2>/dev/null || {
  echo "gpu_check.sh: pycaffe's own suite imports six: pip install six (or put it on PYTHONPATH)" >&2
  exit 2; }
python - <<'PY'
import torch
if not torch.cuda.is_available():
    raise SystemExit("gpu_check.sh: torch sees no CUDA device here; this check is for a GPU "
                     "machine (CPU tests of the same rule: pytest tests/pycaffe/test_gpu_memory.py)")
print(f"torch {torch.__version__}, {torch.cuda.device_count()} CUDA device(s): "
      f"{torch.cuda.get_device_name(0)}")
PY
start=$SECONDS
echo "== 1. every test marked cuda"
python -m pytest -q -m cuda tests
echo "== 1b. tests/pycaffe in GPU mode on the device (and the memory rule on the stand-in)"
python -m pytest -q tests/pycaffe --pycaffe-gpu=device
python -m pytest -n 0 -q tests/pycaffe/test_gpu_memory.py
echo "== 2. pycaffe programs: GPU mode against CPU mode"
python benchmarks/gpu_programs.py
echo "== 2b. pycaffe's own test suite after set_mode_gpu(), on the device"
python benchmarks/pycaffe_own_suite.py --caffe-src "$CAFFE_SRC" --mode device
python benchmarks/pycaffe_own_suite.py --caffe-src "$CAFFE_SRC" --mode device --hold-gpu
echo "== 3. caffe-compat test -gpu 0 against the CPU"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python - "$tmp" <<'PY'
import sys
from tests.small_training import make_small
make_small(sys.argv[1], max_iter=2)
PY
(cd "$tmp" && python -m caffe_compat.cli train -solver solver.prototxt -iterations 2 \
   2> train.log && \
 python -m caffe_compat.cli test -model net.prototxt -weights snap/small_iter_2.caffemodel \
   -iterations 2 2> cpu.log && \
 python -m caffe_compat.cli test -model net.prototxt -weights snap/small_iter_2.caffemodel \
   -iterations 2 -gpu 0 2> gpu.log) || { tail -20 "$tmp"/*.log; exit 1; }
python - "$tmp" <<'PY'
import re, sys
def losses(name):
    text = open(f"{sys.argv[1]}/{name}").read()
    return [float(v) for v in re.findall(r"\] Loss: (\S+)", text)]
cpu, gpu = losses("cpu.log"), losses("gpu.log")
assert cpu and len(cpu) == len(gpu), (cpu, gpu)
assert "Use GPU with device ID 0" in open(f"{sys.argv[1]}/gpu.log").read()
# the mean loss of two batches, float32 sums in other orders: 1e-4 relative
for c, g in zip(cpu, gpu):
    assert abs(c - g) <= 1e-4 * max(abs(c), 1e-6), (c, g)
print(f"caffe-compat test: CPU loss {cpu}, GPU loss {gpu}")
PY
echo "gpu_check.sh: every part passed in $((SECONDS - start)) s"
