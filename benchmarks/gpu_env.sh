# Sourced by benchmarks/gpu_check.sh and benchmarks/gpu_zoo.sh, from the repository root, on the GPU machine.
# Where keras is missing (the H200 image), untars the bundle's packages (python -m benchmarks.gpu_bundle) onto
# PYTHONPATH; the Python scripts unpack the bundle's data themselves (benchmarks.gpu_bundle.unpack_data).
BUNDLE="${BUNDLE:-.gpu_bundle}"
if ! python3 -c "import keras" 2>/dev/null; then
    if [ ! -f "$BUNDLE/site.tar.xz" ]; then
        echo "no $BUNDLE/site.tar.xz: run \`python -m benchmarks.gpu_bundle\` where the data is, and carry $BUNDLE" >&2
        exit 2
    fi
    SITE="${TMPDIR:-/tmp}/gpu_bundle_site"
    python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter='data')" \
        "$BUNDLE/site.tar.xz" "$SITE"
    export PYTHONPATH="$SITE"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
