"""cgan-lab: conditional GANs for MNIST, CIFAR-10 and CIFAR-100 in Keras 3.

Data flows one way: cgan.data → cgan.models → cgan.gan / cgan.train →
run folder (cgan.runs) → cgan.generate. Importing the package does not import
Keras, so the backend can still be chosen (see cgan.runtime).
"""
__version__ = "0.1.0"
