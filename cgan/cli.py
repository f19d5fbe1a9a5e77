"""`cgan` command line: train, generate, export, labels.

Bad input ends with one line on stderr and exit code 2, never a traceback. That covers any `OSError`,
`ValueError`, corrupt file or ONNX Runtime error (`main` is the last line of defence); any other exception is a
bug in cgan and prints its traceback, then a line saying so, with exit code 1. Integer and time options are
checked while parsing, by the `type=` helpers below. A `cgan train` stopped by Ctrl-C (SIGINT) or SIGTERM keeps
its last finished epoch, says in one line how to resume, and exits with 130 or 143.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import signal
import sys
import traceback
import zipfile
from pathlib import Path

from cgan.data import IMAGE_SHAPES
from cgan.errors import EXIT_BUG, EXIT_DIVERGED, EXIT_USAGE, CganError, TrainingDiverged, UsageError
from cgan.onnx_weights import WEIGHT_FORMATS

# Bound of counts whose real limit lies elsewhere (`generate --n`: the disk and PNG-size checks, which refuse
# far less; `--print-every`: the epoch's length): it keeps the arithmetic within numpy's integers.
MAX_COUNT = 10**9
MAX_SCALE = 64  # a 32×32 image at --scale 64 is 2048 pixels wide
MAX_CLASSIFIER_EPOCHS = 1000  # the recipes use 8 to 50
# Errors that mean a file is truncated or not what its name says; like OSError and ValueError, one line.
CORRUPT_FILE_ERRORS = (zipfile.BadZipFile, EOFError, UnicodeError)


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) with exit code 2."""

    def error(self, message):
        message = re.sub(r"^argument ([^:]+): must ", r"\1 must ", message)  # the range helpers' messages
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _integer(low: int, high: int):
    """An argparse `type`: a whole number from `low` to `high`, else a one-line usage error."""
    def parse(text: str) -> int:
        try:
            value = int(text) if text.strip().isascii() else None  # int() also reads '٣'
        except ValueError:
            value = None
        if value is None:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}")
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,}")
        return value
    return parse


def _seed():
    """Seeds go to numpy, which takes 0..2**32 - 1 (the same range as a config's `seed`)."""
    from cgan.config import MAX_SEED

    return _integer(0, MAX_SEED)


def _positive(unit: str):
    """An argparse `type`: a finite, positive number of `unit` ('nan' and 'inf' parse as floats)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"must be a positive number of {unit}, not {text!r}")
        return value
    return parse


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
    train.add_argument("--time-budget", type=_positive("seconds"), metavar="SECONDS",
                       help="stop after the step that crosses this much wall-clock time (the epoch it cuts "
                            "short is recorded as done)")
    train.add_argument("--print-every", type=_integer(0, MAX_COUNT), default=0,
                       help="also print losses every N steps (0: off)")
    train.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                       help="a progress bar per epoch with images/s and ETAs (--no-progress: Keras's line per epoch)")
    train.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=True,
                       help="write TensorBoard logs to <run>/tensorboard/")
    train.add_argument("--quality-every", type=_integer(0, MAX_COUNT),
                       help="score image quality every K epochs (overrides the config's quality_every; 0: off)")

    gen = sub.add_parser("generate", help="generate images for chosen labels")
    gen.add_argument("--dataset", choices=IMAGE_SHAPES)
    gen.add_argument("--label", default="all", help="index, class name, comma list, or 'all'")
    gen.add_argument("--n", type=_integer(1, MAX_COUNT), default=1, help="images per label")
    gen.add_argument("--seed", type=_seed(), help="seed for the noise (reproducible output), 0 to 2**32 - 1")
    gen.add_argument("--run", help="run folder (default: the shipped generator for --dataset)")
    gen.add_argument("--out", required=True, help="output .png (image or grid) or .npz (x uint8, y labels); "
                                                  "an existing file is replaced (and said so) unless read-only")
    gen.add_argument("--scale", type=_integer(1, MAX_SCALE), default=4, help="PNG upscaling factor")

    export = sub.add_parser("export", help="write a run's generator as ONNX (fast, framework-free generate)")
    export.add_argument("--run", required=True, help="run folder holding generator.keras")
    export.add_argument("--weights", choices=WEIGHT_FORMATS, default="float32",
                        help="how the file stores its weights (computed in float32 either way): float16 halves the "
                             "file within a grey level or two, int8 quarters it")
    export.add_argument("--max-file-mb", type=_positive("megabytes"), default=None, metavar="MB",
                        help="a file over MB megabytes keeps its weights in parts of at most MB beside "
                             "generator.onnx (ONNX external data), e.g. to stay under a repository's file limit")

    labels = sub.add_parser("labels", help="list a dataset's class names")
    labels.add_argument("--dataset", required=True, choices=IMAGE_SHAPES)
    labels.add_argument("--coarse", action="store_true", help="CIFAR-100 superclasses (cifar100 only)")
    _evaluation_parsers(sub)
    return parser


def _evaluation_parsers(sub) -> None:
    """`cgan evaluate` and `cgan classifier train` (cgan/evaluation)."""
    evaluate = sub.add_parser("evaluate", help="score a run's generator; writes metrics.json into the run folder")
    evaluate.add_argument("--run", required=True, help="run folder, e.g. resultados/mnist/m1_v2")
    from cgan.evaluation import MAX_PER_CLASS

    evaluate.add_argument("--per-class", type=_integer(2, MAX_PER_CLASS), default=100,
                          help=f"generated (and real floor) images per class, 2 to {MAX_PER_CLASS:,}")
    evaluate.add_argument("--seed", type=_seed(), default=0, help="seed for noise and real samples")
    evaluate.add_argument("--data-dir", help="folder with <dataset>.npz (default $CGAN_DATA_DIR)")
    evaluate.add_argument("--inception-weights", help="local InceptionV3 notop .h5 for the Inception FID "
                                                      "(default $CGAN_INCEPTION_WEIGHTS, Keras cache, download)")
    evaluate.add_argument("--no-inception", action="store_true", help="skip the Inception FID")

    classifier = sub.add_parser("classifier", help="the domain classifiers behind the evaluation metrics")
    actions = classifier.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="train a dataset's classifier into cgan/evaluation/weights/")
    train.add_argument("--dataset", required=True, choices=IMAGE_SHAPES)
    train.add_argument("--epochs", type=_integer(1, MAX_CLASSIFIER_EPOCHS),
                       help="default: the recipe's (see the card)")
    train.add_argument("--seed", type=_seed(), default=0)
    train.add_argument("--data-dir", help="folder with <dataset>.npz (default $CGAN_DATA_DIR)")
    train.add_argument("--out", help="folder for weights and card (default cgan/evaluation/weights)")


def _writable(path: str) -> tuple[Path, bool]:
    """The file to write for `generate --out`, and whether it replaces one; UsageError/RunError if it can't."""
    from cgan.generate import check_replaceable, output_suffix, output_target

    out = output_target(path)
    output_suffix(out)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write to {path}: folder {parent} does not exist or is not writable")
    return out, check_replaceable(out)


def cmd_labels(args) -> None:
    from cgan.data import label_names

    if args.coarse and args.dataset != "cifar100":
        raise UsageError(f"--coarse: only cifar100 has superclasses, {args.dataset} has none")
    names = label_names(args.dataset, label_mode="coarse" if args.coarse else "fine")
    for i, name in enumerate(names):
        print(f"{i}\t{name}")


def cmd_generate(args) -> None:
    out, replacing = _writable(args.out)
    if not args.run and not args.dataset:
        raise UsageError("give --dataset (for the shipped generator) or --run")
    from cgan.generate import check_output, default_run, read_generator_summary, resolve_labels, write_output
    from cgan.onnx import open_generator
    from cgan.runs import RunFolder

    run = Path(args.run) if args.run else default_run(args.dataset)
    summary = read_generator_summary(RunFolder(run))
    if args.dataset and args.dataset != summary["dataset"]:
        raise UsageError(f"the generator in {run} was trained on {summary['dataset']}, not {args.dataset}")
    labels = resolve_labels(args.label, summary["label_names"])  # before the slow framework import
    # Several classes: a row each, or, one image per class, a named grid 10 wide (CIFAR-100 `all`: 10 × 10).
    per_row = (args.n if args.n > 1 else min(len(labels), 10)) if len(labels) > 1 else min(args.n, 10)
    # Refuse an impossible size before the slow framework import, too.
    check_output(out, len(labels) * args.n, summary["image_shape"], per_row, args.scale)
    generator = open_generator(run)
    try:
        write_output(generator, labels, args.n, args.seed, out, per_row, args.scale)
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None
    names = ", ".join(generator.label_names[i] for i in labels[:10]) + (" …" if len(labels) > 10 else "")
    replaced = ", replacing the file that was there" if replacing else ""
    print(f"wrote {out}{replaced} ({len(labels) * args.n} image(s) of {names} from {run})")


def cmd_export(args) -> None:
    # Keras 3 exports to ONNX without extra converters on the torch backend.
    os.environ.setdefault("KERAS_BACKEND", "torch")
    from cgan.onnx import export_onnx, onnx_files

    path, deviation = export_onnx(args.run, args.weights, args.max_file_mb and int(args.max_file_mb * 10**6))
    files = onnx_files(path.parent)
    parts = f" in {len(files)} files" if len(files) > 1 else ""
    print(f"wrote {path} ({args.weights} weights, {sum(f.stat().st_size for f in files) / 1e6:.1f} MB{parts}; "
          f"max difference from Keras {deviation:.1e})")


def cmd_train(args) -> None:
    from cgan.config import load_config

    cfg = load_config(args.config)
    cfg = cfg.with_overrides(epochs=args.epochs, subset=args.subset, eval_samples=args.eval_samples,
                             quality_every=args.quality_every)
    from cgan.runtime import ensure_backend

    ensure_backend(verbose=True, model=cfg.model)
    from cgan.runtime import configure_keras

    configure_keras()  # CGAN_PRECISION, CGAN_DATA_PARALLEL
    from cgan.errors import EvaluationError
    from cgan.training.train import train

    try:
        run = train(cfg, out=args.out, data_dir=args.data_dir, overwrite=args.overwrite,
                    print_every=args.print_every, time_budget=args.time_budget, verbose=1 if args.progress else 2,
                    tensorboard=args.tensorboard)
    except EvaluationError as exc:  # quality monitoring's classifier (quality_every), checked before any deletion
        raise UsageError(str(exc)) from None
    print(f"run folder: {run.path}")


def cmd_evaluate(args) -> None:
    if not Path(args.run).is_dir():
        raise UsageError(f"run folder not found: {args.run}")
    from cgan.generate import check_writable_folder

    check_writable_folder(args.run, 2**20)  # metrics.json, tens of KB: known before minutes of scoring, not after
    from cgan.runtime import ensure_backend

    ensure_backend(verbose=True)
    from cgan.errors import EvaluationError
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
    from cgan.evaluation.classifier import WEIGHTS_DIR, prefer_tensorflow
    from cgan.generate import check_writable_folder

    check_writable_folder(args.out or WEIGHTS_DIR, 2**24)  # weights of a few MB and a card, before training
    from cgan.runtime import ensure_backend

    prefer_tensorflow()
    ensure_backend(verbose=True)
    from cgan.errors import EvaluationError
    from cgan.evaluation.classifier import train_classifier

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
    from cgan.onnx import is_onnxruntime_error

    try:
        COMMANDS[args.command](args)
    except CganError as exc:
        print(f"cgan {args.command}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingDiverged as exc:
        print(f"cgan {args.command}: stopped: {exc}", file=sys.stderr)
        return EXIT_DIVERGED
    except KeyboardInterrupt as exc:  # Ctrl-C; in training also SIGTERM (cgan.errors.TrainingInterrupted)
        return _interrupted(args.command, argv, exc)
    except BrokenPipeError:  # stdout's reader left, as in `cgan labels ... | head`
        return _output_closed()
    except Exception as exc:  # the last line of defence
        if isinstance(exc, (OSError, ValueError, *CORRUPT_FILE_ERRORS)) or is_onnxruntime_error(exc):
            print(f"cgan {args.command}: error: {_describe(exc)}", file=sys.stderr)
            return EXIT_USAGE
        traceback.print_exc()
        print(f"cgan {args.command}: this is a bug in cgan, not a problem with your input: please report it "
              f"with the traceback above", file=sys.stderr)
        return EXIT_BUG
    return 0


def _one_line(text: str, limit: int = 400) -> str:
    """The first non-empty line of a message, shortened: library errors may span many lines."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if len(first) <= limit else first[:limit - 1] + "…"


def _describe(exc: Exception) -> str:
    """One line for an error from the OS or a library, naming its file where the error knows it."""
    if isinstance(exc, OSError) and exc.filename is not None:
        target = f" → {exc.filename2}" if exc.filename2 is not None else ""
        return _one_line(f"{exc.filename}{target}: {exc.strerror or exc}")
    return f"{_one_line(str(exc))} ({type(exc).__name__})" if str(exc).strip() else type(exc).__name__


def _output_closed() -> int:
    """Stop quietly with 128 + SIGPIPE, as a shell tool killed by SIGPIPE would."""
    if sys.stdout is sys.__stdout__:  # not when stdout was replaced (captured, in tests)
        try:  # the flush of stdout at exit would fail again, with a message of its own
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
    return 128 + getattr(signal, "SIGPIPE", 13)


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
