"""Every error cgan raises for the user ends `cgan` with one line and its exit code (cgan.errors)."""
import pytest

from cgan import cli, errors

USER_ERRORS = [cls for cls in vars(errors).values()
               if isinstance(cls, type) and issubclass(cls, errors.CganError)]


def test_every_user_error_is_a_cgan_error_with_a_builtin_base():
    names = {cls.__name__ for cls in USER_ERRORS}
    assert {"UsageError", "ConfigError", "DataError", "RunError", "BackendError", "StaleOnnx", "LabelError",
            "EvaluationError"} <= names
    assert issubclass(errors.ConfigError, ValueError) and issubclass(errors.RunError, RuntimeError)


@pytest.mark.parametrize("error", USER_ERRORS, ids=lambda cls: cls.__name__)
def test_a_user_error_is_one_line_and_exit_2(error, monkeypatch, capsys):
    def fails(args):
        raise error("the thing to fix\nand a second line nobody needs")

    monkeypatch.setitem(cli.COMMANDS, "labels", fails)
    assert cli.main(["labels", "--dataset", "mnist"]) == errors.EXIT_USAGE == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["cgan labels: error: the thing to fix"]


def test_a_diverged_run_is_exit_3_and_a_bug_exit_1(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "labels", lambda args: (_ for _ in ()).throw(errors.TrainingDiverged("NaN")))
    assert cli.main(["labels", "--dataset", "mnist"]) == errors.EXIT_DIVERGED == 3
    monkeypatch.setitem(cli.COMMANDS, "labels", lambda args: (_ for _ in ()).throw(KeyError("oops")))
    assert cli.main(["labels", "--dataset", "mnist"]) == errors.EXIT_BUG == 1
    assert "this is a bug in cgan" in capsys.readouterr().err


def test_an_interrupted_training_names_the_command_that_resumes_it(capsys, monkeypatch):
    def stopped(args):
        raise errors.TrainingInterrupted("stopped at epoch 3; the checkpoint of epoch 2 is kept", 15)

    monkeypatch.setitem(cli.COMMANDS, "labels", stopped)
    assert cli.main(["labels", "--dataset", "mnist"]) == 128 + 15
    assert "resume with: cgan labels --dataset mnist" in capsys.readouterr().err
