"""cgan-lab: conditional GANs for MNIST, CIFAR-10 and CIFAR-100 in Keras 3.

Data flows one way: cgan.data → cgan.models → cgan.training.gan / cgan.training.train →
run folder (cgan.runs) → cgan.generate. Importing the package does not import
Keras, so the backend can still be chosen (see cgan.runtime).
"""
import sys

__version__ = "0.1.0"
REQUIRES_PYTHON = (3, 11)  # tomllib (cgan.config); pyproject.toml says the same

# Before any module that needs 3.11 is imported: one line instead of a traceback (this file is parsed by
# older Pythons too, so it stays plain).
if tuple(sys.version_info[:2]) < REQUIRES_PYTHON:
    sys.stderr.write("cgan-lab needs Python %d.%d or newer; this is Python %d.%d (%s)\n"
                     % (REQUIRES_PYTHON + tuple(sys.version_info[:2]) + (sys.executable,)))
    raise SystemExit(2)
