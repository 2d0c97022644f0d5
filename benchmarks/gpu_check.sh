#!/usr/bin/env bash
# GPU mode on a machine with a CUDA device, in one run of a few minutes (well under 8 on one
# GPU): every test marked `cuda` (GPU mode's memory rule on the device, the inference plan's
# folds, the conformance grid's device column, the training feed, CUDA against CPU for nets and
# solvers; they skip without a device), every test of tests/pycaffe after caffe.set_mode_gpu()
# on the device (--pycaffe-gpu=device; those that check CPU mode itself skip), the pycaffe
# programs of tests/pycaffe/public_programs in GPU mode compared with their CPU outputs
# (benchmarks/gpu_programs.py), pycaffe's own test suite (BVLC Caffe's python/caffe/test, from
# the source tree $CAFFE_SRC names) after caffe.set_mode_gpu() on the device
# (benchmarks/pycaffe_own_suite.py), then `caffe-compat test -gpu 0` against the CPU.
#
#     CAFFE_SRC=PATH benchmarks/gpu_check.sh             # on the GPU machine, from the root
#     CAFFE_SRC=PATH benchmarks/gpu_check.sh --standin   # a dry run on a machine without one
#
# `--standin` runs the same parts in GPU mode on the device stand-in (the device copies on the
# CPU: CAFFE_COMPAT_DEVICE_STANDIN=1), the `cuda` tests skipping and the command-line part
# left out: it checks the run's inputs and set-up before a GPU machine's time is spent.
# Public inputs come from ../shared or $RLQ_SHARED, as the tests read them; pycaffe's own suite
# imports `six`. Every part runs (each stopped after GPU_CHECK_PART_SECONDS, default 300, and
# then counted as failed); the run ends with the list of the parts that failed. Exit status: 0
# when every part passed, 1 when one failed, 2 when an input is missing.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mode=device
[ "${1:-}" = "--standin" ] && mode=standin
if [ ! -d "${CAFFE_SRC:-/nonexistent}/python/caffe/test" ]; then
  echo "gpu_check.sh: set CAFFE_SRC to a BVLC Caffe source tree (pycaffe's own suite)" >&2
  exit 2
fi
python -c "import six" 2>/dev/null || {
  echo "gpu_check.sh: pycaffe's own suite imports six: pip install six (or put it on PYTHONPATH)" >&2
  exit 2; }
if [ "$mode" = device ]; then
  python - <<'PY' || exit 2
import torch
if not torch.cuda.is_available():
    raise SystemExit("gpu_check.sh: torch sees no CUDA device here; this check is for a GPU "
                     "machine (--standin: the same parts on the device stand-in)")
print(f"torch {torch.__version__}, {torch.cuda.device_count()} CUDA device(s): "
      f"{torch.cuda.get_device_name(0)}")
PY
else
  export CAFFE_COMPAT_DEVICE_STANDIN=1
  echo "gpu_check.sh --standin: GPU mode on the device stand-in (no CUDA device used)"
fi
start=$SECONDS
failed=()
# a part stopped after this many seconds counts as failed (a hung part leaves time for the rest)
part_limit=${GPU_CHECK_PART_SECONDS:-300}
part() {                      # part NAME COMMAND...: run it, note it when it fails
  local name=$1 t=$SECONDS
  shift
  echo "== $name"
  local run=(timeout "$part_limit")
  declare -F "$1" > /dev/null && run=()    # a function of this script: run as it is
  if "${run[@]}" "$@"; then
    echo "-- $name: passed in $((SECONDS - t)) s"
  else
    echo "-- $name: FAILED after $((SECONDS - t)) s"
    failed+=("$name")
  fi
}

cli_test() {                  # caffe-compat test -gpu 0 gives the CPU's losses
  local tmp
  tmp=$(mktemp -d)
  python - "$tmp" <<'PY' || return 1
import sys
from tests.small_training import make_small
make_small(sys.argv[1], max_iter=2)
PY
  (cd "$tmp" && python -m caffe_compat.cli train -solver solver.prototxt -iterations 2 \
     2> train.log && \
   python -m caffe_compat.cli test -model net.prototxt -weights snap/small_iter_2.caffemodel \
     -iterations 2 2> cpu.log && \
   python -m caffe_compat.cli test -model net.prototxt -weights snap/small_iter_2.caffemodel \
     -iterations 2 -gpu 0 2> gpu.log) || { tail -20 "$tmp"/*.log; rm -rf "$tmp"; return 1; }
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
  local status=$?
  rm -rf "$tmp"
  return $status
}

part "1. every test marked cuda" python -m pytest -q -m cuda tests
part "1b. tests/pycaffe in GPU mode on the $mode" \
  python -m pytest -q tests/pycaffe --pycaffe-gpu=$mode
part "1c. the memory rule on the stand-in" \
  python -m pytest -n 0 -q tests/pycaffe/test_gpu_memory.py
part "2. pycaffe programs: GPU mode against CPU mode" python benchmarks/gpu_programs.py
part "2b. pycaffe's own test suite after set_mode_gpu()" \
  python benchmarks/pycaffe_own_suite.py --caffe-src "$CAFFE_SRC" --mode $mode
part "2c. pycaffe's own test suite, set_mode_cpu() held off" \
  python benchmarks/pycaffe_own_suite.py --caffe-src "$CAFFE_SRC" --mode $mode --hold-gpu
if [ "$mode" = device ]; then
  part "3. caffe-compat test -gpu 0 against the CPU" cli_test
else
  echo "== 3. caffe-compat test -gpu 0: left out on the stand-in (it needs a CUDA device)"
fi
if [ ${#failed[@]} -eq 0 ]; then
  echo "gpu_check.sh: every part passed in $((SECONDS - start)) s"
  exit 0
fi
echo "gpu_check.sh: ${#failed[@]} part(s) failed in $((SECONDS - start)) s:"
printf '  %s\n' "${failed[@]}"
exit 1
