"""Scoring generated images: domain classifiers, distribution metrics and `cgan evaluate`.

    classifier.py  one small CNN per dataset; its penultimate layer is the feature space
    metrics.py     label accuracy, Fréchet distance, KID, precision/recall/density/coverage, intra-class FD
    inception.py   the standard Inception FID, only where ImageNet weights can be had
    scoring.py     one set of real test images in the feature space, and every score of an image set against it
    evaluate.py    `cgan evaluate`: a run folder → metrics.json and a printed table

Training's quality monitor (cgan.training.quality) scores with scoring.py too, so the modules here except
evaluate.py sit below training in the package's layers. Importing them does not import Keras.
"""

# `cgan evaluate --per-class` at most: about the test images per class of MNIST and CIFAR-10, against which the
# generated images are scored. All of them are held in memory at once (CIFAR-100 at the cap: 100,000 images,
# 1.2 GB as float32) and each costs a generator and a classifier pass: more would run long for little gain.
MAX_PER_CLASS = 1000
