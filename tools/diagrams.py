"""Architecture diagrams for the README: `python -m tools.diagrams` → images/<model>_{generator,discriminator}.png.

Needs pydot and the Graphviz `dot` program (`apt-get install graphviz`); only
needed to redraw the committed figures.
"""
from __future__ import annotations

import sys

from cgan.runtime import ensure_backend


def main(folder: str = "images") -> None:
    ensure_backend()
    import keras

    from cgan.models import build_models

    for name, shape, classes in (("m1", (28, 28, 1), 10), ("m3", (32, 32, 3), 100),
                                 ("m4", (32, 32, 3), 100), ("m5", (32, 32, 3), 10)):
        for model in build_models(name, shape, classes):
            path = f"{folder}/{model.name}.png"
            keras.utils.plot_model(model, to_file=path, show_shapes=True, show_layer_names=True, dpi=60)
            print("wrote", path)


if __name__ == "__main__":
    main(*sys.argv[1:])
