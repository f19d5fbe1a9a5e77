"""tools/rescore_previous.py: the new generator scored with the classifier, N and seed of the run it replaced."""
import json

import pytest

from cgan.errors import RunError
from tests.tiny_generator import tiny_generator_run
from tools.rescore_previous import main, rescore

PER_CLASS = 5


def previous_metrics(run, test_accuracy: float, per_class: int = PER_CLASS, seed: int = 1) -> None:
    (run / "previous").mkdir(exist_ok=True)
    (run / "previous" / "metrics.json").write_text(json.dumps({
        "dataset": "mnist", "samples": {"per_class": per_class, "seed": seed},
        "feature_space": {"classifier_test_accuracy": test_accuracy}}))


def test_refuses_a_run_without_the_old_runs_metrics(tmp_path, capsys):
    run = tiny_generator_run(tmp_path / "run")
    assert main(["--run", str(run), "--classifier-commit", "HEAD"]) == 2
    assert "previous/metrics.json missing" in capsys.readouterr().err


@pytest.mark.slow
def test_refuses_a_classifier_other_than_the_old_runs(tmp_path, capsys):  # git show runs
    run = tiny_generator_run(tmp_path / "run")
    previous_metrics(run, test_accuracy=0.5)
    with pytest.raises(RunError, match="test accuracy .* but .* one of 0.5: pick the commit of that classifier"):
        rescore(run, "HEAD")
    assert main(["--run", str(run), "--classifier-commit", "no-such-commit"]) == 2
    assert "git has no cgan/evaluation/weights/mnist.weights.h5 at no-such-commit" in capsys.readouterr().err
    assert not (run / "previous" / "rescored.json").exists()


@pytest.mark.slow
def test_scores_like_evaluate_with_that_classifier_and_never_overwrites(tmp_path, monkeypatch, data_dir):
    from cgan.evaluation.classifier import read_card
    from cgan.evaluation.evaluate import evaluate_run

    monkeypatch.setenv("CGAN_DATA_DIR", str(data_dir))
    run = tiny_generator_run(tmp_path / "run")
    previous_metrics(run, read_card("mnist")["test_accuracy"])  # HEAD's classifier is today's
    rescored = rescore(run, "HEAD")
    today = evaluate_run(run, PER_CLASS, seed=1, data_dir=data_dir, inception=False)
    assert rescored["generated"]["label_accuracy"] == today["generated"]["label_accuracy"]
    assert rescored["generated"]["fd"] == pytest.approx(today["generated"]["fd"], rel=1e-6)
    assert rescored["samples"]["seed"] == 1 and rescored["feature_space"]["classifier"].endswith(" at HEAD")
    written = json.loads((run / "previous" / "rescored.json").read_text())
    assert written["generated"]["fd"] == rescored["generated"]["fd"]
    with pytest.raises(RunError, match="rescored.json exists"):
        rescore(run, "HEAD")
