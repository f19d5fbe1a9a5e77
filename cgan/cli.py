"""`cgan` command line: train, generate, labels.

Bad input ends with one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_USAGE = 2


class UsageError(Exception):
    """Raised for input the user can fix; printed as one line."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cgan", description="Conditional GAN laboratory (MNIST, CIFAR-10, CIFAR-100)")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a config into its run folder (resumes from its checkpoint)")
    train.add_argument("--config", required=True, help="configs/<dataset>/<model>_<version>.toml")
    train.add_argument("--epochs", type=int, help="override the config's epoch count")
    train.add_argument("--subset", type=int, help="train on a stratified subset of this many images")
    train.add_argument("--eval-samples", type=int, help="real and fake images per split for D's metrics")
    train.add_argument("--out", help="run folder (default resultados/<dataset>/<model>_<version>)")
    train.add_argument("--data-dir", help="folder with <dataset>.npz (default $CGAN_DATA_DIR, then keras.datasets)")
    train.add_argument("--overwrite", action="store_true", help="delete an existing run folder first")
    train.add_argument("--print-every", type=int, default=50, help="print losses every N steps (0: off)")

    gen = sub.add_parser("generate", help="generate images for chosen labels")
    gen.add_argument("--dataset", choices=("mnist", "cifar10", "cifar100"))
    gen.add_argument("--label", default="all", help="index, class name, comma list, or 'all'")
    gen.add_argument("--n", type=int, default=1, help="images per label")
    gen.add_argument("--seed", type=int, help="seed for the noise (reproducible output)")
    gen.add_argument("--run", help="run folder (default: the shipped generator for --dataset)")
    gen.add_argument("--out", required=True, help="output .png (image or grid) or .npz (x uint8, y labels)")
    gen.add_argument("--scale", type=int, default=4, help="PNG upscaling factor")

    labels = sub.add_parser("labels", help="list a dataset's class names")
    labels.add_argument("--dataset", required=True, choices=("mnist", "cifar10", "cifar100"))
    labels.add_argument("--coarse", action="store_true", help="CIFAR-100 superclasses")
    return parser


def _writable(path: str) -> Path:
    out = Path(path)
    if out.suffix.lower() not in (".png", ".npz"):
        raise UsageError(f"--out must end in .png or .npz: {path}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write to {path}: folder {parent} does not exist or is not writable")
    return out


def cmd_labels(args) -> None:
    from cgan.data import label_names

    names = label_names(args.dataset, label_mode="coarse" if args.coarse else "fine")
    for i, name in enumerate(names):
        print(f"{i}\t{name}")


def cmd_generate(args) -> None:
    if args.n < 1:
        raise UsageError("--n must be at least 1")
    out = _writable(args.out)
    if not args.run and not args.dataset:
        raise UsageError("give --dataset (for the shipped generator) or --run")
    from cgan.generate import Generator, default_run, resolve_labels, save_images
    from cgan.runs import RunFolder

    run = Path(args.run) if args.run else default_run(args.dataset)
    summary = RunFolder(run).read_summary()
    if args.dataset and args.dataset != summary["dataset"]:
        raise UsageError(f"the generator in {run} was trained on {summary['dataset']}, not {args.dataset}")
    labels = resolve_labels(args.label, summary["label_names"])  # before the slow framework import
    from cgan.runtime import ensure_backend

    ensure_backend(verbose=True)
    generator = Generator.from_run(run)
    images, label_array = generator.generate(labels, args.n, args.seed)
    save_images(images, label_array, out, per_row=args.n if len(labels) > 1 else min(args.n, 10), scale=args.scale)
    names = ", ".join(generator.label_names[i] for i in labels[:10]) + (" …" if len(labels) > 10 else "")
    print(f"wrote {out} ({len(images)} image(s) of {names} from {run})")


def cmd_train(args) -> None:
    from cgan.config import load_config

    cfg = load_config(args.config)
    cfg = cfg.with_overrides(epochs=args.epochs, subset=args.subset, eval_samples=args.eval_samples)
    from cgan.runtime import ensure_backend

    ensure_backend(verbose=True)
    from cgan.train import train

    run = train(cfg, out=args.out, data_dir=args.data_dir, overwrite=args.overwrite, print_every=args.print_every)
    print(f"run folder: {run.path}")


COMMANDS = {"train": cmd_train, "generate": cmd_generate, "labels": cmd_labels}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from cgan.config import ConfigError
    from cgan.data import DataError
    from cgan.generate import LabelError
    from cgan.runs import RunError

    try:
        COMMANDS[args.command](args)
    except (UsageError, ConfigError, DataError, LabelError, RunError) as exc:
        print(f"cgan {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
