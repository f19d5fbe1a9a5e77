#!/usr/bin/env bash
# The original zoo (configs/mnist m1 v1/v2, m3; configs/cifar100 m3, m4, m5; configs/cifar10 m5 v1–v4) trained on
# an offline GPU machine with PyTorch, in ONE call of ≤ ~9 minutes (benchmarks/gpu_zoo.py says how):
#   here:   python -m benchmarks.gpu_bundle           # packages + the data that fits into .gpu_bundle/
#   device: run(command="bash benchmarks/gpu_zoo.sh", carry=[".gpu_bundle"], timeout_s=570)
#   here:   python -m benchmarks.gpu_zoo --import <files_at>   # the runs into resultados/, index rebuilt
# Calling it again while the machine is still warm resumes the runs cut short. Extra arguments go to gpu_zoo.py,
# e.g. --runs cifar10/m5_v3 cifar100/m5_v1, --budget-s 300, --backend jax, --precision bf16, --dry-run.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/gpu_env.sh  # sets BUNDLE (default .gpu_bundle) and PYTHONPATH
python3 -m benchmarks.gpu_zoo --bundle "$BUNDLE" "$@"
