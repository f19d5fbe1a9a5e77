"""tools/children.py: a stopped parent stops its training child gently, and a time limit does too."""
import signal
import subprocess
import sys
import time
import pytest

from tools.children import REPO, run_child

# A stand-in for `cgan train`: says it is ready, then on SIGTERM writes which signal came and exits 3.
CHILD = """
import pathlib, signal, sys, time
marker = pathlib.Path(sys.argv[1])
def stop(signum, _frame):
    marker.write_text(signal.Signals(signum).name)
    sys.exit(3)
signal.signal(signal.SIGTERM, stop)
marker.with_suffix(".ready").write_text("")
time.sleep(60)
"""


def _wait_for(path, seconds=30):
    deadline = time.time() + seconds
    while not path.exists():
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_child_past_its_limit_gets_sigterm_and_ends_gently(tmp_path):
    marker = tmp_path / "child"
    code, at_limit = run_child([sys.executable, "-c", CHILD, str(marker)], limit_s=3)
    assert (code, at_limit) == (3, True) and marker.read_text() == "SIGTERM"


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    ignoring = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    started = time.time()
    code, at_limit = run_child([sys.executable, "-c", ignoring], limit_s=1, grace_s=1)
    assert (code, at_limit) == (-signal.SIGKILL, True) and time.time() - started < 20


@pytest.mark.slow
def test_sigterm_to_the_parent_reaches_the_child_and_stops_further_children(tmp_path):
    marker = tmp_path / "child"
    parent = ("import sys; from tools.children import run_child, stop_requested\n"
              f"code, at_limit = run_child([sys.executable, '-c', {CHILD!r}, {str(marker)!r}])\n"
              "print(code, at_limit, stop_requested())")
    process = subprocess.Popen([sys.executable, "-c", parent], cwd=REPO, stdout=subprocess.PIPE, text=True)
    _wait_for(marker.with_suffix(".ready"))
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    # Without forwarding the parent would die of the signal (exit -15) and leave the child sleeping, unmarked.
    assert process.returncode == 0 and out.split() == ["3", "False", "True"] and marker.read_text() == "SIGTERM"
