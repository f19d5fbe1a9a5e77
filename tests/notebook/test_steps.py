"""The notebooks' TRAIN rule (cgan.notebook.steps.train_decision), their training call and their TensorBoard cell.

Fast: fake run folders (summary.json, checkpoint/state.json, an empty generator.keras), no notebook runs.
"""
import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cgan.notebook import steps as notebook
from cgan.notebook.steps import came_with_repository, train_decision

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 5


def fake_run(folder: Path, status: str, checkpoint: int | None, minutes_ago: float = 60.0,
             generator: bool = True) -> Path:
    """A run folder as cgan.training.train leaves it: summary.json, a checkpoint after epoch `checkpoint` (None: none)."""
    folder.mkdir(parents=True)
    updated = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    summary = {"status": status, "epochs_done": checkpoint or 0, "epochs_planned": EPOCHS, "wall_seconds": 30.0,
               "updated_utc": updated.isoformat(timespec="seconds")}
    (folder / "summary.json").write_text(json.dumps(summary))
    if generator:
        (folder / "generator.keras").write_bytes(b"")
    if checkpoint is not None:
        (folder / "checkpoint").mkdir()
        (folder / "checkpoint" / "state.json").write_text(json.dumps({"epoch": checkpoint,
                                                                      "folder": f"epoch_{checkpoint:04d}"}))
    return folder


def decide(run: Path, train: str = "auto") -> tuple[bool, str]:
    return train_decision(run, train, test_mode=False, total_params=1_000, epochs=EPOCHS)


@pytest.mark.parametrize("status, minutes_ago, how", [
    ("interrupted", 1, "it was interrupted"),  # the stop button, Ctrl-C, SIGTERM
    ("stopped", 1, "it was stopped"),  # a time budget
    ("running", 60, "it was left running 60 min ago by a process that ended"),  # a dead kernel, a Colab disconnect
])
def test_auto_resumes_a_run_of_yours_that_was_cut_short(tmp_path, status, minutes_ago, how):
    run = fake_run(tmp_path / "run", status, checkpoint=3, minutes_ago=minutes_ago)
    assert decide(run) == (True, f"resuming {run} after epoch 3 of {EPOCHS} ({how})")


@pytest.mark.parametrize("status, checkpoint, note", [
    ("finished", EPOCHS, None),
    ("interrupted", None, None),  # nothing to resume from
    ("diverged", 3, "diverged"),
    ("running", 3, "still running: updated 1 min ago, another process may be training it"),
])
def test_auto_loads_every_other_run_with_a_generator(tmp_path, status, checkpoint, note):
    run = fake_run(tmp_path / "run", status, checkpoint, minutes_ago=1)
    should_train, message = decide(run)
    assert not should_train and message.startswith(f"loading the existing run {run}")
    if note:  # a checkpoint short of the planned epochs: one line on how to go on
        assert message.endswith(f'({note}; 3 of {EPOCHS} epochs): TRAIN = "resume" continues it from its checkpoint')
    else:
        assert "resume" not in message


def test_auto_and_resume_train_a_run_without_generator(tmp_path):
    run = fake_run(tmp_path / "run", "interrupted", checkpoint=None, generator=False)
    for train in ("auto", "resume"):
        assert decide(run, train) == (True, f"training into {run}")
        assert decide(tmp_path / "new", train) == (True, f"training into {tmp_path / 'new'}")


def git(folder: Path, *args):
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, timeout=60)


@pytest.mark.slow
def test_auto_loads_a_committed_run_cut_short_and_resume_continues_it(tmp_path):
    """A run git tracks came with the repository: opening its notebook must not start hours of training."""
    git(tmp_path, "init", "-q")
    run = fake_run(tmp_path / "resultados" / "mnist" / "m1_v2", "stopped", checkpoint=3)
    git(tmp_path, "add", "resultados")
    assert came_with_repository(run)
    assert decide(run) == (False, f"loading the existing run {run} (stopped, and it came with the repository; "
                                  f'3 of {EPOCHS} epochs): TRAIN = "resume" continues it from its checkpoint')
    assert decide(run, "resume") == (True, f"resuming {run} after epoch 3 of {EPOCHS}")
    untracked = fake_run(tmp_path / "resultados" / "mnist" / "m3_v1", "stopped", checkpoint=3)
    assert not came_with_repository(untracked) and decide(untracked)[0]


@pytest.mark.slow
def test_a_committed_run_without_generator_is_loaded_not_trained(tmp_path):
    """The zoo's large generators stay out of git: opening such a run's notebook shows its plots."""
    git(tmp_path, "init", "-q")
    run = fake_run(tmp_path / "resultados" / "cifar100" / "m3_v1", "finished", checkpoint=None, generator=False)
    git(tmp_path, "add", "resultados")
    for train in ("auto", "resume"):
        assert decide(run, train) == (False, f"loading the existing run {run}: it came with the repository without "
                                             "its generator (git does not carry it); set OUTPUT_DIR to another "
                                             "folder to train one")
    assert decide(run, "never") == (False, f"TRAIN='never': using {run} as it is")
    assert decide(run, "always") == (True, f"training into {run}")  # and cgan.training.train refuses: no checkpoint


def test_without_git_the_repositorys_resultados_counts_as_committed(tmp_path, monkeypatch):
    """A downloaded archive has no git: its resultados/ runs are the committed ones."""
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert came_with_repository(REPO / "resultados" / "mnist" / "m1_v2")
    assert not came_with_repository(fake_run(tmp_path / "run", "stopped", checkpoint=3))


def test_auto_loads_every_committed_run_and_says_how_to_continue_one_cut_short():
    """resultados/ as committed: every run is loaded, never trained, those without a generator in git too;
    one cut short says how to resume it."""
    runs = [s.parent for s in sorted((REPO / "resultados").glob("*/*/summary.json")) if came_with_repository(s.parent)]
    assert any(not (run / "generator.keras").is_file() for run in runs), "the zoo's m3/m4 runs carry no generator"
    for run in runs:
        summary = json.loads((run / "summary.json").read_text())
        should_train, message = train_decision(run, "auto", False, 1_000, summary["epochs_planned"])
        assert not should_train, message
        if not (run / "generator.keras").is_file():  # "resume" continues a committed checkpoint, never this
            resumed, why = train_decision(run, "resume", False, 1_000, summary["epochs_planned"])
            assert not resumed, why
        state = run / "checkpoint" / "state.json"
        if state.is_file() and json.loads(state.read_text())["epoch"] < summary["epochs_planned"]:
            assert message.endswith('TRAIN = "resume" continues it from its checkpoint'), message


@pytest.mark.parametrize("checkpoint, why", [(EPOCHS, f"its checkpoint has {EPOCHS} of {EPOCHS} epochs"),
                                             (None, "it has no checkpoint")])
def test_resume_loads_a_run_with_nothing_to_resume(tmp_path, checkpoint, why):
    run = fake_run(tmp_path / "run", "finished", checkpoint)
    should_train, message = decide(run, "resume")
    assert not should_train and message.startswith(f"nothing to resume in {run}: {why}")


def test_a_wrong_train_value_names_the_choices(tmp_path):
    with pytest.raises(ValueError, match="TRAIN must be one of auto, resume, always, never"):
        decide(tmp_path, "sometimes")


def test_the_notebooks_train_with_the_progress_bar(tmp_path, monkeypatch):
    """train_or_load leaves `verbose` to cgan.training.train.train, whose default is the per-epoch progress bar."""
    import cgan.training.train

    calls = []
    monkeypatch.setattr(cgan.training.train, "train", lambda cfg, **kwargs: calls.append(kwargs))
    cfg = notebook.notebook_config("mnist", "fast", "v1", test_mode=True)
    notebook.train_or_load(cfg, tmp_path / "run")
    assert calls == [{"out": tmp_path / "run"}]


class FakeShell:
    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line):
        self.magics.append((name, line))


@pytest.mark.parametrize("test_mode", [True, False])
def test_tensorboard_starts_only_outside_test_mode(tmp_path, monkeypatch, capsys, test_mode):
    shell = FakeShell()
    monkeypatch.setattr(notebook, "_ipython", lambda: shell)
    notebook.tensorboard(tmp_path / "run", test_mode)
    magics = [("load_ext", "tensorboard"), ("tensorboard", f'--logdir "{tmp_path / "run" / "tensorboard"}"')]
    printed = capsys.readouterr().out
    assert "has no TensorBoard logs yet" in printed
    if test_mode:  # CI: the two commands, and no server
        assert shell.magics == [] and f'%tensorboard --logdir "{tmp_path / "run" / "tensorboard"}"' in printed
    else:
        assert shell.magics == magics
