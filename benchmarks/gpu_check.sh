#!/usr/bin/env bash
# The GPU check (issue #19): one command for a machine with an NVIDIA GPU and CuPy, under 8
# minutes, writing everything under $OUT (default: ./gpu-check-out). Nothing is installed from
# a registry: minigen runs from the working tree through PYTHONPATH.
#
#   OUT=/some/dir bash benchmarks/gpu_check.sh          # on the GPU machine
#   GPU_CHECK_DRY=1 bash benchmarks/gpu_check.sh        # here, on the CPU: the plumbing only
#                                                       # (tests on the simulated device, tiny runs)
#
# Steps, each time-boxed so that one slow part cannot eat the others (the suite has 7,276 tests
# now: 203 s for the dry run on the 2-core CPU, so it gets 230 s of the 8 minutes; on a fresh
# GPU machine CuPy also compiles each kernel at its first use):
#   1. minigen info (versions, the GPU, CuPy);
#   2a. the fused CUDA kernels' tests first (each twin as CuPy compiles it, against its NumPy
#      function), so that they report even if the whole suite runs out of time;
#   2. the whole test suite on the real 'cuda' device (-x off), JUnit XML + a plain log;
#   3. minigen bench --device all --vs-torch over the op and model workloads that matter
#      (GPU times after synchronize(), PyTorch CUDA beside minigen's CuPy);
#   4. the model steps again on cuda with the fused CUDA kernels switched off (MINIGEN_FUSED=0):
#      what the @fused twins buy, and where launches still cost;
#   5. the default VAE trained on cuda and on the CPU: test -ELBO and time of both.
# Each test line is written as it finishes (-v), so a step cut by its time box still reports.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
# the device tool brings back at most 8 files: everything is written to WORK, then $OUT gets
# summary.txt and one archive of the rest
WORK="$(mktemp -d)"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
PY="${PYTHON:-python3}"
DRY="${GPU_CHECK_DRY:-0}"
summary="$WORK/summary.txt"
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }

if [ "$DRY" = 1 ]; then
  T_FUSED=120; T_TESTS=600; T_BENCH=300; T_AB=120; T_VAE=120; BENCH_ARGS="--quick"; VAE_ARGS="--quick --steps 20"; DEV_TRAIN=cpu
  TEST_ARGS=(-m "not slow"); DEV_AB=cpu
else
  T_FUSED=45; T_TESTS=230; T_BENCH=55; T_AB=35; T_VAE=50; BENCH_ARGS="--repeats 5"; VAE_ARGS=""; DEV_TRAIN=cuda
  TEST_ARGS=(); DEV_AB=cuda
fi

note "== gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) dry=$DRY"
note "== 1. minigen info"
$PY -m minigen.cli info 2>&1 | tee "$WORK/info.txt" | tee -a "$summary"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | tee -a "$summary" || true
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())" 2>&1 | tee -a "$summary"

note "== 2a. the fused CUDA kernels against their NumPy functions, first (${T_FUSED}s at most)"
t0=$(date +%s)
timeout "$T_FUSED" $PY -m pytest -v -p no:cacheprovider -o addopts="" minigen_tests/test_fused_kernels.py \
  > "$WORK/fused.log" 2>&1
note "fused-kernel tests exit $? in $(( $(date +%s) - t0 )) s: $(grep -c ' PASSED' "$WORK/fused.log") passed, $(grep -c ' FAILED' "$WORK/fused.log") failed, $(grep -c ' SKIPPED' "$WORK/fused.log") skipped"
grep -E " FAILED|^E " "$WORK/fused.log" | head -30 | tee -a "$summary"

note "== 2. the test suite on 'cuda' (${T_TESTS}s at most)"
t0=$(date +%s)
timeout "$T_TESTS" $PY -m pytest -v -p no:cacheprovider "${TEST_ARGS[@]}" --junitxml="$WORK/junit.xml" \
  -o addopts="" -rf > "$WORK/tests.log" 2>&1
rc=$?
note "pytest exit $rc in $(( $(date +%s) - t0 )) s; $(grep -E '(passed|failed).* in [0-9.]+s' "$WORK/tests.log" | tail -1)"
note "per-test lines: $(grep -c ' PASSED' "$WORK/tests.log") passed, $(grep -c ' FAILED' "$WORK/tests.log") failed, $(grep -c ' SKIPPED' "$WORK/tests.log") skipped"
grep -E " FAILED| ERROR|^FAILED|^ERROR" "$WORK/tests.log" | sort -u | head -60 | tee -a "$summary"

note "== 3. minigen bench --device all --vs-torch (${T_BENCH}s at most)"
t0=$(date +%s)
timeout "$T_BENCH" $PY -m minigen.cli bench --device all --vs-torch --no-scaling --no-profile $BENCH_ARGS \
  --only "tiny,chain,elementwise,matmul,conv2d,attention,gpt_step,dcgan_step,model:vae,model:gpt,model:lstm,model:dcgan,model:wgan_gp" \
  --out "$WORK/bench" > "$WORK/bench.log" 2>&1
note "bench exit $? in $(( $(date +%s) - t0 )) s"
grep -E "^\S.*\[(cpu|cuda)\]|minigen |torch " "$WORK/bench.log" | head -80 >> "$summary"

note "== 4. the model steps on cuda with the fused kernels off (${T_AB}s at most)"
t0=$(date +%s)
MINIGEN_FUSED=0 timeout "$T_AB" $PY -m minigen.cli bench --device "$DEV_AB" --no-scaling --no-profile $BENCH_ARGS \
  --only "gpt_step,dcgan_step,model:vae,model:gpt,model:lstm" --out "$WORK/bench-unfused" > "$WORK/bench-unfused.log" 2>&1
note "bench (unfused) exit $? in $(( $(date +%s) - t0 )) s"
grep -E "^\S.*\[(cpu|cuda)\]|minigen " "$WORK/bench-unfused.log" | head -30 | sed 's/^/unfused: /' >> "$summary"

note "== 5. the default VAE on $DEV_TRAIN and on cpu (${T_VAE}s each at most)"
for dev in "$DEV_TRAIN" cpu; do
  rm -rf "$WORK/vae-$dev"
  t0=$(date +%s)
  timeout "$T_VAE" $PY -m minigen.cli train vae --device "$dev" $VAE_ARGS --no-progress --no-pictures \
    --out "$WORK/vae-$dev" > "$WORK/vae-$dev.log" 2>&1
  note "vae on $dev: exit $? in $(( $(date +%s) - t0 )) s; $(grep -E 'test -ELBO|training:' "$WORK/vae-$dev.log" | tr -s ' ' | tr '\n' ';')"
  [ "$DEV_TRAIN" = cpu ] && break
done
rm -f "$WORK"/vae-*/*.npz
note "== done"
cp "$summary" "$OUT/summary.txt"
tar czf "$OUT/gpu_check.tgz" -C "$WORK" .
