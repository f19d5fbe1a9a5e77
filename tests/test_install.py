"""The install story and the README's test command on a fresh machine.

- pyproject.toml: the default install is the generation set; extras carry the training stack in ranges, and
  constraints-cpu.txt pins all of it for our CPU-only machines (CPU builds of TensorFlow and PyTorch).
- `cgan generate` runs with the generation set alone: a `python -S` process that sees only the files of
  those distributions (and of what they need), as a fresh venv with `pip install -e .` would.
- A wrong Python gets one line. `make test` installs Debian's chromium when it is missing; .ci/run calls it.
"""
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
import pytest
from pathlib import Path

from packaging.requirements import Requirement
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
FRAMEWORKS = {"tensorflow", "tensorflow-cpu", "torch", "jax", "jaxlib"}  # what Colab has preinstalled


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements) -> set[str]:
    return {canonical(Requirement(r).name) for r in requirements}


def constraint_pins() -> dict[str, str]:
    lines = (REPO / "constraints-cpu.txt").read_text().splitlines()
    pins = (line.split("==", 1) for line in (text.split("#")[0].strip() for text in lines) if line)
    return {canonical(name): version for name, version in pins}


@pytest.mark.slow
def test_python_3_11_is_declared_and_an_older_one_gets_one_line():
    assert PYPROJECT["requires-python"] == ">=3.11"
    for start in ("import cgan", "import runpy; runpy.run_module('cgan', run_name='__main__')"):
        code = f"import sys; sys.version_info = (3, 10, 14, 'final', 0); sys.argv = ['cgan', 'labels']; {start}"
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.startswith("cgan-lab needs Python 3.11 or newer; this is Python 3.10")
        assert len(done.stderr.splitlines()) == 1, done.stderr


def test_the_default_install_is_the_generation_set_and_extras_pin_no_cpu_build():
    assert requirement_names(PYPROJECT["dependencies"]) == {"numpy", "pillow", "onnxruntime", "pydantic", "tomli-w"}
    extras = PYPROJECT["optional-dependencies"]
    assert {"train", "tf", "tf-cpu", "torch", "jax", "notebooks", "dev"} <= set(extras)
    for name, requirements in extras.items():
        for requirement in map(Requirement, requirements):
            assert not any(s.operator == "==" for s in requirement.specifier), f"[{name}] pins {requirement}"
            assert requirement.name != "tensorflow-cpu" or name == "tf-cpu", f"[{name}] forces the CPU build"
    assert not FRAMEWORKS & requirement_names(extras["train"] + extras["notebooks"])  # Colab keeps its own


def test_constraints_pin_everything_for_our_cpu_machines():
    pins = constraint_pins()
    extras = PYPROJECT["optional-dependencies"]
    needed = requirement_names(PYPROJECT["dependencies"] + [r for e in extras.values() for r in e])
    assert needed - {"cgan-lab", "tensorflow"} <= set(pins)  # [tf] is for GPU machines: tensorflow-cpu here
    assert pins["torch"].endswith("+cpu") and "tensorflow-cpu" in pins
    assert pins["tomli-w"] == importlib.metadata.version("tomli-w")


def make_dry_run(*args) -> str:
    return subprocess.run(["make", "-n", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
def test_make_generate_installs_only_the_generation_set():
    installs = [line for line in make_dry_run("generate").splitlines() if "pip install" in line]
    assert installs == ["python -m pip install -q -c constraints-cpu.txt -e ."]
    assert "-e \".[tf-cpu,torch,jax,dev]\"" in make_dry_run("install-dev")


def generation_site(folder: Path) -> Path:
    """A folder holding only the files of pyproject's dependencies and of what they need, as links."""
    names, seen = [Requirement(r) for r in PYPROJECT["dependencies"]], set()
    while names:
        requirement = names.pop()
        if requirement.name.lower() in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(requirement.name.lower())
        dist = importlib.metadata.distribution(requirement.name)
        names += [Requirement(r) for r in dist.requires or []]
        for file in dist.files or []:
            source = Path(dist.locate_file(file))
            if ".." not in file.parts and source.is_file():
                (folder / file).parent.mkdir(parents=True, exist_ok=True)
                (folder / file).symlink_to(source)
    assert not ({"keras"} | FRAMEWORKS) & seen, seen
    return folder


def cgan_with_only(site: Path, *args, cwd: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "PYTHONPATH")}
    env["PYTHONPATH"] = f"{site}{os.pathsep}{REPO}"
    code = "import sys; from cgan.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-S", "-c", code, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cgan_generate_runs_with_the_generation_set_alone(tmp_path):
    site = generation_site(tmp_path / "site")
    done = cgan_with_only(site, "generate", "--dataset", "mnist", "--label", "7", "--out", tmp_path / "x.png",
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "x.png").size == (28 * 4, 28 * 4)
    # A run without generator.onnx needs Keras: one line saying what to install, exit code 2.
    shipped = REPO / "resultados" / "mnist" / "fast_v1"
    run = tmp_path / "run"
    run.mkdir()
    for name in ("summary.json", "generator.keras"):
        shutil.copy2(shipped / name, run / name)
    done = cgan_with_only(site, "generate", "--run", run, "--label", "7", "--out", tmp_path / "y.png", cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert re.search(r"needs Keras .* pip install", done.stderr)


@pytest.mark.slow
def test_make_test_installs_chromium_when_it_is_missing(tmp_path):
    apt_get = tmp_path / "apt-get"  # records its arguments instead of installing
    apt_get.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'calls'}\n")
    apt_get.chmod(0o755)
    for chromium, calls in ((tmp_path / "missing", ["update -q", "install -y -q chromium"]), (apt_get, None)):
        (tmp_path / "calls").unlink(missing_ok=True)
        subprocess.run(["make", "-s", "browser", f"CHROMIUM={chromium}", f"APT_GET={apt_get}"], cwd=REPO,
                       capture_output=True, text=True, check=True)
        assert ((tmp_path / "calls").read_text().splitlines() if calls else (tmp_path / "calls").exists()) == \
            (calls or False)
    assert f"{apt_get} install -y -q chromium" in make_dry_run("test", "CHROMIUM=/nonexistent", f"APT_GET={apt_get}")
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == "make test" and not any("apt-get" in line for line in ci)
