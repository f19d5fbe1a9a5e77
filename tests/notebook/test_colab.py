"""The notebooks' Colab setup cell, run as it is in the built notebooks, in a simulated Colab.

Colab is simulated by a fake `google.colab` module; the repository URL is a local bare git remote made from
this working tree; pip installs into a folder of the test (`--target`), never into this environment. The
clone-and-install runs in a `python -S` subprocess, so the cgan installed here cannot answer the import.
"""
import ast
import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the [notebooks] extra is not installed")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "cgan_train_m1_mnist.ipynb"
GIT = ["git", "-c", "user.name=cgan-test", "-c", "user.email=cgan-test@localhost", "-c", "init.defaultBranch=main"]
# What the cell needs of the repository to install it: its package metadata, README (named by it) and code.
INSTALLABLE = ("pyproject.toml", "README.md", "cgan")
# Runs the setup cell with a fake google.colab: its own call is replaced by one with this test's remote and
# folders (pip options keep the install inside the test's folder and offline).
DRIVER = r'''
import ast, json, os, sys, types
cell, url, target, site = sys.argv[1:5]
google = types.ModuleType("google")
google.colab = types.ModuleType("google.colab")
sys.modules.update({"google": google, "google.colab": google.colab})
tree = ast.parse(open(cell).read())
tree.body.pop()
namespace = {}
exec(compile(tree, cell, "exec"), namespace)
try:
    namespace["colab_install"](url, target=target,
                               pip_options=("--no-deps", "--no-build-isolation", "--target", site))
except RuntimeError as exc:
    print(json.dumps({"error": str(exc)}))
    raise SystemExit(0)
import cgan
print(json.dumps({"error": None, "cgan": cgan.__file__, "cwd": os.getcwd()}))
'''


def setup_cell() -> str:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")


def make_remote(folder: Path, files: dict | None = None) -> Path:
    """A bare git remote holding this working tree's installable part (plus `files`, path → text)."""
    work = folder / "work"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", *INSTALLABLE],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, work / name)
    for name, text in (files or {}).items():
        (work / name).write_text(text)
    subprocess.run([*GIT, "init", "-q", str(work)], check=True)
    subprocess.run([*GIT, "-C", str(work), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(work), "commit", "-q", "-m", "cgan-lab for the Colab test"], check=True)
    remote = folder / "cgan-lab.git"
    subprocess.run([*GIT, "clone", "-q", "--bare", str(work), str(remote)], check=True)
    return remote


def run_cell(tmp_path: Path, url: str) -> dict:
    cell = tmp_path / "setup_cell.py"
    cell.write_text(setup_cell())
    done = subprocess.run([sys.executable, "-S", "-c", DRIVER, str(cell), url, str(tmp_path / "clone"),
                           str(tmp_path / "site")], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_setup_cell_is_cgan_colab_and_the_last_cell_repeats_it():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = setup_cell()
    call = ast.parse(cell).body[-1]
    assert ast.unparse(call) == "colab_install(REPO_URL, USE_DRIVE)"
    assert cell.splitlines()[1].startswith('REPO_URL = "https://') and "USE_DRIVE = False" in cell
    assert "|| true" not in cell and "!pip" not in cell  # failures raise; nothing pins a CPU build
    body = (REPO / "cgan" / "notebook" / "colab.py").read_text().split('"""', 2)[2].strip()
    assert body in cell and body in nb.cells[-1].source


@pytest.mark.slow
def test_on_colab_the_cell_clones_installs_and_imports(tmp_path):
    remote = make_remote(tmp_path)
    result = run_cell(tmp_path, str(remote))
    clone = tmp_path / "clone"
    assert result["error"] is None
    assert Path(result["cgan"]) == clone / "cgan" / "__init__.py" and Path(result["cwd"]) == clone
    # pip installed it (editable, into the test's folder): a new process finds cgan through that install alone
    check = "import site, sys; site.addsitedir(sys.argv[1]); import cgan; print(cgan.__file__)"
    done = subprocess.run([sys.executable, "-S", "-c", check, str(tmp_path / "site")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == clone / "cgan" / "__init__.py"
    assert list((tmp_path / "site").glob("cgan_lab-*.dist-info"))


@pytest.mark.slow
def test_a_bad_url_fails_loudly(tmp_path):
    result = run_cell(tmp_path, str(tmp_path / "no-such-repository.git"))
    assert "could not clone" in result["error"] and "no-such-repository.git" in result["error"]
    assert "set REPO_URL" in result["error"]
    assert not (tmp_path / "site").exists()


@pytest.mark.slow
def test_a_failed_install_fails_loudly(tmp_path):
    remote = make_remote(tmp_path, {"pyproject.toml": "[project\nthis is not TOML\n"})
    result = run_cell(tmp_path, str(remote))
    assert result["error"].startswith("pip could not install cgan-lab from")


def fake_colab(monkeypatch, mounted: list):
    google = types.ModuleType("google")
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mounted.append)
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)


def test_use_drive_keeps_run_folders_and_datasets_on_drive(tmp_path, monkeypatch):
    namespace = {}
    exec(setup_cell().rsplit("colab_install(REPO_URL", 1)[0], namespace)
    mounted = []
    fake_colab(monkeypatch, mounted)
    for name in ("CGAN_RUNS_DIR", "KERAS_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    clone = tmp_path / "clone"  # already cloned and installed: only Drive is new
    clone.mkdir()
    (clone / "pyproject.toml").write_text("")
    namespace["colab_install"]("unused", use_drive=True, target=str(clone), drive_folder=str(tmp_path / "drive"))
    assert mounted == ["/content/drive"]
    assert os.environ["CGAN_RUNS_DIR"] == str(tmp_path / "drive" / "resultados")
    assert os.environ["KERAS_HOME"] == str(tmp_path / "drive" / "keras")
    from cgan.notebook.steps import run_folder

    assert run_folder("mnist", "m1", "v2") == tmp_path / "drive" / "resultados" / "mnist" / "m1_v2"


def test_outside_colab_the_cell_does_nothing_when_cgan_is_installed(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.chdir(tmp_path)
    namespace = {"REPO_URL": "unused"}
    exec(setup_cell(), namespace)  # no google.colab here: nothing is cloned, nothing changes
    assert os.getcwd() == str(tmp_path) and not any(tmp_path.iterdir())
