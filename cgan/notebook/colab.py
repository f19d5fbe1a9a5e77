"""Setting up a notebook on Google Colab: clone cgan-lab, install it, optionally keep runs on Google Drive.

Every notebook's first cell, and the last cell of the training notebooks, carry the code below this docstring
(tools/build_notebooks.py inlines it), since they may run before cgan is installed: it imports only the standard
library. tests/notebook/test_colab.py runs that cell against a local git remote with a fake `google.colab`.
"""
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

COLAB_CLONE = "/content/cgan-lab"
DRIVE_MOUNT = "/content/drive"
DRIVE_FOLDER = "/content/drive/MyDrive/cgan-lab"


def on_colab() -> bool:
    """True inside a Colab runtime (its `google.colab` package is there)."""
    if "google.colab" in sys.modules:
        return True
    try:
        return importlib.util.find_spec("google.colab") is not None
    except ImportError:  # no `google` package at all
        return False


def _checked(command: list, failure: str) -> None:
    """Run `command`; raise RuntimeError(failure + its last line of output) when it fails."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
        raise RuntimeError(f"{failure}: {lines[-1]}")


def colab_install(repo_url: str, use_drive: bool = False, target: str = COLAB_CLONE,
                  drive_folder: str = DRIVE_FOLDER, pip_options: tuple = ()) -> None:
    """On Colab, make `import cgan` work in this kernel; elsewhere, check that cgan is installed.

    Clones `repo_url` into `target` (once) and installs it with pip, editable, with the training stack but no
    backend (the `[train]` extra): Colab's own TensorFlow, PyTorch and JAX stay as they are. With `use_drive`,
    mounts Google Drive first; notebooks then keep their run folders (CGAN_RUNS_DIR) and Keras's datasets
    cache (KERAS_HOME) in `drive_folder`, so they outlive the Colab VM. Raises RuntimeError with what to do
    when the clone or the install fails.
    """
    if not on_colab():
        if importlib.util.find_spec("cgan") is None:
            raise RuntimeError("cgan is not installed in this kernel's Python: in your clone of cgan-lab run "
                               "`pip install -e \".[tf]\"` (or `make install`), then restart the kernel")
        return
    if use_drive:
        from google.colab import drive

        drive.mount(DRIVE_MOUNT)
        os.environ["CGAN_RUNS_DIR"] = str(Path(drive_folder) / "resultados")
        os.environ["KERAS_HOME"] = str(Path(drive_folder) / "keras")  # read when keras is first imported
        Path(os.environ["CGAN_RUNS_DIR"]).mkdir(parents=True, exist_ok=True)
    clone = Path(target)
    if not (clone / "pyproject.toml").is_file():
        _checked(["git", "clone", "-q", "--depth", "1", repo_url, str(clone)],
                 f"could not clone {repo_url!r} into {clone}; set REPO_URL at the top of the first cell to the "
                 f"repository's URL and run the cell again")
    try:
        importlib.metadata.distribution("cgan-lab")
    except importlib.metadata.PackageNotFoundError:
        _checked([sys.executable, "-m", "pip", "install", "-q", *pip_options, "-e", f"{clone}[train]"],
                 f"pip could not install cgan-lab from {clone}")
    if str(clone) not in sys.path:  # an editable install is seen by new processes only; this kernel needs this
        sys.path.insert(0, str(clone))
    importlib.invalidate_caches()
    os.chdir(clone)  # so `!cgan train --config configs/...` finds the configs
    import cgan

    where = f"; run folders and datasets cache in {drive_folder}" if use_drive else ""
    print(f"cgan-lab {cgan.__version__} from {repo_url} in {clone}{where}")
