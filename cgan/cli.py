"""`cgan` command line: train, generate, export, labels.

Bad input ends with one line on stderr and exit code 2, never a traceback. A `cgan train` stopped by Ctrl-C
(SIGINT) or SIGTERM keeps its last finished epoch, says in one line how to resume, and exits with 130 or 143.
"""
from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from pathlib import Path

EXIT_USAGE = 2
EXIT_DIVERGED = 3


class UsageError(Exception):
    """Raised for input the user can fix; printed as one line."""


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) with exit code 2."""

    def error(self, message):
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="cgan", description="Conditional GAN laboratory (MNIST, CIFAR-10, CIFAR-100)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)

    train = sub.add_parser("train", help="train a config into its run folder (resumes from its checkpoint)")
    train.add_argument("--config", required=True, help="configs/<dataset>/<model>_<version>.toml")
    train.add_argument("--epochs", type=int, help="override the config's epoch count")
    train.add_argument("--subset", type=int, help="train on a stratified subset of this many images")
    train.add_argument("--eval-samples", type=int, help="real and fake images per split for D's metrics")
    train.add_argument("--out", help="run folder (default resultados/<dataset>/<model>_<version>)")
    train.add_argument("--data-dir", help="folder with <dataset>.npz (default $CGAN_DATA_DIR, then keras.datasets)")
    train.add_argument("--overwrite", action="store_true", help="delete an existing run folder first")
    train.add_argument("--time-budget", type=float, metavar="SECONDS",
                       help="stop after the step that crosses this much wall-clock time (the epoch it cuts "
                            "short is recorded as done)")
    train.add_argument("--print-every", type=int, default=0, help="also print losses every N steps (0: off)")
    train.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                       help="a progress bar per epoch with images/s and ETAs (--no-progress: Keras's line per epoch)")
    train.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=True,
                       help="write TensorBoard logs to <run>/tensorboard/")
    train.add_argument("--quality-every", type=int,
                       help="score image quality every K epochs (overrides the config's quality_every; 0: off)")

    gen = sub.add_parser("generate", help="generate images for chosen labels")
    gen.add_argument("--dataset", choices=("mnist", "cifar10", "cifar100"))
    gen.add_argument("--label", default="all", help="index, class name, comma list, or 'all'")
    gen.add_argument("--n", type=int, default=1, help="images per label")
    gen.add_argument("--seed", type=int, help="seed for the noise (reproducible output)")
    gen.add_argument("--run", help="run folder (default: the shipped generator for --dataset)")
    gen.add_argument("--out", required=True, help="output .png (image or grid) or .npz (x uint8, y labels)")
    gen.add_argument("--scale", type=int, default=4, help="PNG upscaling factor")

    export = sub.add_parser("export", help="write a run's generator as ONNX (fast, framework-free generate)")
    export.add_argument("--run", required=True, help="run folder holding generator.keras")

    labels = sub.add_parser("labels", help="list a dataset's class names")
    labels.add_argument("--dataset", required=True, choices=("mnist", "cifar10", "cifar100"))
    labels.add_argument("--coarse", action="store_true", help="CIFAR-100 superclasses")
    _evaluation_parsers(sub)
    return parser


def _evaluation_parsers(sub) -> None:
    """`cgan evaluate` and `cgan classifier train` (issue 4, cgan/evaluation)."""
    evaluate = sub.add_parser("evaluate", help="score a run's generator; writes metrics.json into the run folder")
    evaluate.add_argument("--run", required=True, help="run folder, e.g. resultados/mnist/m1_v2")
    evaluate.add_argument("--per-class", type=int, default=100, help="generated (and real floor) images per class")
    evaluate.add_argument("--seed", type=int, default=0, help="seed for noise and real samples")
    evaluate.add_argument("--data-dir", help="folder with <dataset>.npz (default $CGAN_DATA_DIR)")
    evaluate.add_argument("--inception-weights", help="local InceptionV3 notop .h5 for the Inception FID "
                                                      "(default $CGAN_INCEPTION_WEIGHTS, Keras cache, download)")
    evaluate.add_argument("--no-inception", action="store_true", help="skip the Inception FID")

    classifier = sub.add_parser("classifier", help="the domain classifiers behind the evaluation metrics")
    actions = classifier.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="train a dataset's classifier into cgan/evaluation/weights/")
    train.add_argument("--dataset", required=True, choices=("mnist", "cifar10", "cifar100"))
    train.add_argument("--epochs", type=int, help="default: the recipe's (see the card)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--data-dir", help="folder with <dataset>.npz (default $CGAN_DATA_DIR)")
    train.add_argument("--out", help="folder for weights and card (default cgan/evaluation/weights)")


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
    from cgan.generate import check_output, default_run, resolve_labels, write_output
    from cgan.onnx_generate import open_generator
    from cgan.runs import RunFolder

    run = Path(args.run) if args.run else default_run(args.dataset)
    summary = RunFolder(run).read_summary()
    if args.dataset and args.dataset != summary["dataset"]:
        raise UsageError(f"the generator in {run} was trained on {summary['dataset']}, not {args.dataset}")
    labels = resolve_labels(args.label, summary["label_names"])  # before the slow framework import
    # Several classes: a row each, or, one image per class, a named grid 10 wide (CIFAR-100 `all`: 10 × 10).
    per_row = (args.n if args.n > 1 else min(len(labels), 10)) if len(labels) > 1 else min(args.n, 10)
    if "image_shape" in summary:  # refuse an impossible size before the slow framework import, too
        check_output(out, len(labels) * args.n, summary["image_shape"], per_row, args.scale)
    generator = open_generator(run)
    try:
        write_output(generator, labels, args.n, args.seed, out, per_row, args.scale)
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None
    names = ", ".join(generator.label_names[i] for i in labels[:10]) + (" …" if len(labels) > 10 else "")
    print(f"wrote {out} ({len(labels) * args.n} image(s) of {names} from {run})")


def cmd_export(args) -> None:
    # Keras 3 exports to ONNX without extra converters on the torch backend.
    os.environ.setdefault("KERAS_BACKEND", "torch")
    from cgan.export import export_onnx

    path, deviation = export_onnx(args.run)
    print(f"wrote {path} (max difference from Keras {deviation:.1e})")


def cmd_train(args) -> None:
    from cgan.config import load_config

    cfg = load_config(args.config)
    cfg = cfg.with_overrides(epochs=args.epochs, subset=args.subset, eval_samples=args.eval_samples,
                             quality_every=args.quality_every)
    from cgan.runtime import ensure_backend

    ensure_backend(verbose=True, model=cfg.model)
    from cgan.runtime import configure_keras

    configure_keras()  # CGAN_PRECISION, CGAN_DATA_PARALLEL
    from cgan.train import train

    if args.time_budget is not None and args.time_budget <= 0:
        raise UsageError("--time-budget must be a positive number of seconds")
    run = train(cfg, out=args.out, data_dir=args.data_dir, overwrite=args.overwrite, print_every=args.print_every,
                time_budget=args.time_budget, verbose=1 if args.progress else 2, tensorboard=args.tensorboard)
    print(f"run folder: {run.path}")


def cmd_evaluate(args) -> None:
    if args.per_class < 2:
        raise UsageError("--per-class must be at least 2")
    if not Path(args.run).is_dir():
        raise UsageError(f"run folder not found: {args.run}")
    from cgan.runtime import ensure_backend

    ensure_backend(verbose=True)
    from cgan.evaluation import EvaluationError
    from cgan.evaluation.evaluate import evaluate_run, format_table, write_metrics

    try:
        metrics = evaluate_run(args.run, args.per_class, args.seed, args.data_dir,
                               inception=not args.no_inception, inception_weights=args.inception_weights)
    except EvaluationError as exc:
        raise UsageError(str(exc)) from None
    path = write_metrics(args.run, metrics)
    print(format_table(metrics))
    print(f"wrote {path}")


def cmd_classifier(args) -> None:
    if args.epochs is not None and args.epochs < 1:
        raise UsageError("--epochs must be at least 1")
    from cgan.evaluation.classifier import prefer_tensorflow
    from cgan.runtime import ensure_backend

    prefer_tensorflow()
    ensure_backend(verbose=True)
    from cgan.evaluation import EvaluationError
    from cgan.evaluation.classifier import WEIGHTS_DIR, train_classifier

    try:
        card = train_classifier(args.dataset, args.epochs, args.data_dir, args.seed, Path(args.out or WEIGHTS_DIR))
    except EvaluationError as exc:
        raise UsageError(str(exc)) from None
    print(f"{args.dataset}: test accuracy {card['test_accuracy']:.4f} after {card['epochs']} epochs "
          f"({card['wall_seconds']:.0f} s, {card['backend']}); wrote {args.out or WEIGHTS_DIR}")


COMMANDS = {"train": cmd_train, "generate": cmd_generate, "labels": cmd_labels, "export": cmd_export,
            "evaluate": cmd_evaluate, "classifier": cmd_classifier}


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter is not for users
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = _parser().parse_args(argv)
    from cgan.config import ConfigError
    from cgan.data import DataError
    from cgan.generate import LabelError
    from cgan.runs import RunError, TrainingDiverged

    try:
        COMMANDS[args.command](args)
    except (UsageError, ConfigError, DataError, LabelError, RunError) as exc:
        print(f"cgan {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingDiverged as exc:
        print(f"cgan {args.command}: stopped: {exc}", file=sys.stderr)
        return EXIT_DIVERGED
    except KeyboardInterrupt as exc:  # Ctrl-C; in training also SIGTERM (cgan.stop.TrainingInterrupted)
        return _interrupted(args.command, argv, exc)
    return 0


def _interrupted(command: str, argv: list[str], exc: KeyboardInterrupt) -> int:
    """One line on stderr; exit code 128 + the signal's number (130 SIGINT, 143 SIGTERM), as a shell reports."""
    what = getattr(exc, "what", None)
    if what is None:
        print(f"cgan {command}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    resume = shlex.join(["cgan", *(a for a in argv if a != "--overwrite")])  # --overwrite would start over
    print(f"cgan {command}: stopped: {what}; resume with: {resume}", file=sys.stderr)
    return 128 + exc.signum


if __name__ == "__main__":
    sys.exit(main())
