#!/usr/bin/env bash
# The GPU checks (issue 15) as one run on a machine with an NVIDIA GPU and CuPy: the `#| gpu` cells of every notebook
# that has them (GPU against CPU on the same input), then `benchmarks/bench_gpu.py`.
#
# On your own GPU machine, with the package installed (`pip install -e ".[dev,gpu]"`):
#     bash tools/gpu_check.sh
# On the workplace's device machine (no network; its image has CUDA, CuPy, torch, pytest, numpy, scipy, scikit-image,
# h5py, matplotlib, tensorboard, but not the rest of our needs), first fetch the missing wheels here, then run there:
#     bash tools/gpu_check.sh --fetch          # here: the wheels into .whl/ (git-ignored), for CPython 3.12 x86-64,
#                                              # and the 7-Scenes excerpt into shared/ (git-ignored; shared/ travels)
#     device run, carry [".whl"], timeout_s 600:  bash tools/gpu_check.sh
# Logs go to $OUT (the device tool's folder that comes back) or ./gpu_check_out: gpu_tests.log and bench_gpu.log.
set -uo pipefail
cd "$(dirname "$0")/.."

# what the device image lacks of our runtime and test dependencies (pure Python, except psygnal and watchdog)
MISSING="k3d anywidget ipywidgets comm ipython ipython-pygments-lexers jedi parso matplotlib-inline traitlets pexpect
ptyprocess prompt-toolkit wcwidth stack-data executing asttokens pure-eval widgetsnbextension jupyterlab-widgets psygnal
deepcomparer traittypes trimesh fastcore nbdev execnb astunparse ghapi fastspec fasttransport httpx2 httpcore2 truststore
watchdog fastgit tzdata"

if [ "${1:-}" = "--fetch" ]; then
  rm -rf .whl; mkdir -p .whl
  for name in $MISSING; do
    # the version this checkout is developed with, where it is installed here; else the newest
    ver=$(python3 -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name" 2>/dev/null)
    spec="$name${ver:+==$ver}"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform manylinux1_x86_64 -d .whl "$spec" || echo "could not fetch $spec" >&2
  done
  # the 7-Scenes excerpt for the benchmark: ../shared does not travel to the device machine, a shared/ inside the checkout does
  if [ -d ../shared/data/7scenes-excerpt ] && [ ! -d shared/data/7scenes-excerpt ]; then
    mkdir -p shared/data && cp -r ../shared/data/7scenes-excerpt shared/data/
  fi
  du -sh .whl shared 2>/dev/null; ls .whl | wc -l
  exit 0
fi

if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
python3 -c "import cupy, numpy; print('cupy', cupy.__version__, 'numpy', numpy.__version__, 'GPUs', cupy.cuda.runtime.getDeviceCount())" \
  2>/dev/null || { echo 'CuPy is not installed or sees no GPU: nothing to check'; exit 1; }
OUT_DIR="${OUT:-$PWD/gpu_check_out}"; mkdir -p "$OUT_DIR"

# the notebooks with gpu cells (scene stages, the trainer, the SRN, the point-cloud network), four at a time
NBS="01_kernels or 11_render or 13_synthetic or 20_tsdf or 22_neuralrecon or 24_demo or 30_voxelize or 31_backproj or 32_chunks or 36_train or 72_srn_model or 81_pcm_model"
timeout 330 python3 -m pytest -q -n 4 -p no:cacheprovider --flags gpu tests/test_notebooks.py -k "$NBS" 2>&1 | tee "$OUT_DIR/gpu_tests.log"
tests=${PIPESTATUS[0]}
timeout 240 python3 benchmarks/bench_gpu.py 2>&1 | tee "$OUT_DIR/bench_gpu.log"
bench=${PIPESTATUS[0]}
echo "gpu tests exit $tests, benchmark exit $bench"
[ "$tests" = 0 ] && [ "$bench" = 0 ]
