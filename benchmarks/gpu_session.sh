#!/usr/bin/env bash
# One call on a machine with an NVIDIA GPU and CuPy (issue #19): the device tests on the real GPU,
# then the GPU benchmark, everything logged under $OUT. Run from the repository root:
#
#     OUT=/tmp/gpu bash benchmarks/gpu_session.sh
#
# CuPy compiles each element-wise kernel the first time it meets it; the compiled kernels are
# packed into $OUT/cupy_cache.tgz, and a later call that finds .gpucache/cupy_cache.tgz starts warm.
set -u
OUT=${OUT:-/tmp/gpu_session}
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 CUPY_CACHE_DIR=/tmp/cupy_cache
mkdir -p "$CUPY_CACHE_DIR"
if [ -f .gpucache/cupy_cache.tgz ]; then tar xzf .gpucache/cupy_cache.tgz -C "$CUPY_CACHE_DIR"; fi
nvidia-smi -L
python3 -c "import sys, numpy, cupy, torch; print('python', sys.version.split()[0], 'numpy', numpy.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__)"

echo "== benchmark =="
timeout "${BENCH_S:-150}" python3 benchmarks/run_gpu.py --out "$OUT/gpu.json" ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench.log"
echo "fused kernels that fell back: $(grep -c 'did not run on this GPU' "$OUT/bench.log")"
grep 'did not run on this GPU' "$OUT/bench.log" | cut -c1-300 | head -20

echo "== device tests =="
# (a test that hangs is cut at 120 s where pytest-timeout is installed, as on the GPU machine)
PER_TEST=$(python3 -c "import pytest_timeout" 2>/dev/null && echo "--timeout 120")
timeout "${TEST_S:-240}" python3 -m pytest -n "${WORKERS:-8}" -p no:cacheprovider -q -rfE --tb=short \
    ${PER_TEST} --junitxml="$OUT/junit.xml" ${TESTS:-tests/test_device.py tests/test_device_ops.py tests/test_kernels.py \
    tests/test_pytorch_programs.py::test_a_program_that_picks_cuda_runs_on_the_device_and_prints_the_same} \
    > "$OUT/tests.log" 2>&1
echo "pytest exit $?"
grep -E "^(FAILED|ERROR)" "$OUT/tests.log" | cut -c1-200 | sort | uniq | head -80
tail -3 "$OUT/tests.log"
tar czf "$OUT/cupy_cache.tgz" -C "$CUPY_CACHE_DIR" .
