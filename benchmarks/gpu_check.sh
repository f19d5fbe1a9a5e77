#!/usr/bin/env bash
# GPU speed check for an offline machine with PyTorch and JAX (no TensorFlow), e.g. the H200 device tool:
#   here:   python -m benchmarks.gpu_bundle          # once: wheels + data into .gpu_bundle/ (~37 MiB)
#   device: run(command="bash benchmarks/gpu_check.sh", carry=[".gpu_bundle"], timeout_s=600)
# Installs the bundled wheels only when keras is missing, then runs benchmarks/gpu_check.py (≤ ~8 min): the
# speed jobs, then the SNGAN CIFAR-10 quality run (sngan.csv: label accuracy and FD per epoch). Extra
# arguments go to gpu_check.py, e.g. --stages sngan.
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE="${BUNDLE:-.gpu_bundle}"
if ! python3 -c "import keras" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$BUNDLE"/wheels/*.whl
    export PYTHONPATH="/tmp/site"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
python3 benchmarks/gpu_check.py --bundle "$BUNDLE" "$@"
