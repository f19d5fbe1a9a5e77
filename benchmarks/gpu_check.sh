#!/usr/bin/env bash
# GPU speed check for an offline machine with PyTorch and JAX (no TensorFlow), e.g. the H200 device tool:
#   here:   python -m benchmarks.gpu_bundle --datasets mnist cifar10   # packages + data into .gpu_bundle/
#   device: run(command="bash benchmarks/gpu_check.sh", carry=[".gpu_bundle"], timeout_s=600)
# Unpacks the bundled packages only when keras is missing, then runs benchmarks/gpu_check.py (≤ ~8 min): the
# speed jobs, then the SNGAN CIFAR-10 quality run (sngan.csv: label accuracy and FD per epoch). Extra
# arguments go to gpu_check.py, e.g. --stages sngan.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/gpu_env.sh  # sets BUNDLE (default .gpu_bundle) and PYTHONPATH
python3 benchmarks/gpu_check.py --bundle "$BUNDLE" "$@"
