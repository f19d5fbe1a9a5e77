"""The backend rule on an NVIDIA GPU, a missing Keras, and the accelerator that a run records.

The GPU and the installed packages are simulated, so these tests read the same with or without a GPU; the CPU
rule is covered by tests/test_distribute.py in fresh processes.
"""
import importlib.util
import sys
import types

import pytest

from cgan import runtime
from cgan.errors import RunError

REAL_FIND_SPEC = importlib.util.find_spec


def installed_only(monkeypatch, *names):
    """importlib.util.find_spec as if, of Keras and its backends, only `names` were installed."""
    hidden = {"keras", "tensorflow", "torch", "jax"} - set(names)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name in hidden else REAL_FIND_SPEC(name, *args))


def choose(monkeypatch, kind: str, model=None) -> str:
    monkeypatch.delenv("KERAS_BACKEND", raising=False)  # monkeypatch restores the real one afterwards
    monkeypatch.setattr(runtime, "hardware", lambda: kind)
    return runtime.ensure_backend(model=model)


@pytest.mark.parametrize("installed, expected", [
    (("keras", "tensorflow", "torch", "jax"), "tensorflow"),
    (("keras", "torch", "jax"), "torch"),
    (("keras", "jax"), "jax"),  # JAX only where nothing else is installed: opt-in otherwise
])
def test_on_a_gpu_tensorflow_is_the_default_and_jax_opt_in(monkeypatch, installed, expected):
    installed_only(monkeypatch, *installed)
    assert choose(monkeypatch, "cuda") == expected
    assert choose(monkeypatch, "cuda", model="fast") == expected  # the per-model rule is the CPU's


def test_keras_backend_set_by_the_user_wins_on_a_gpu(monkeypatch):
    monkeypatch.setattr(runtime, "hardware", lambda: "cuda")
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert runtime.ensure_backend(model="fast") == "jax"


@pytest.mark.parametrize("installed", [("tensorflow", "torch"), ("keras",)])
def test_a_generation_only_install_gets_one_line_not_an_import_error(monkeypatch, installed):
    installed_only(monkeypatch, *installed)
    with pytest.raises(RunError) as caught:  # the CLI prints a RunError as one line, exit code 2
        choose(monkeypatch, "cpu")
    message = str(caught.value)
    assert "\n" not in message and 'pip install -e ".[tf]"' in message


def device(platform: str, kind: str):
    return types.SimpleNamespace(platform=platform, device_kind=kind)


def test_the_accelerator_comes_from_the_active_backend(monkeypatch):
    jax = types.SimpleNamespace(devices=lambda: [device("gpu", "NVIDIA H200"), device("gpu", "NVIDIA H200")])
    gpu = types.SimpleNamespace(name="/physical_device:GPU:0")
    tf_config = types.SimpleNamespace(
        list_physical_devices=lambda kind: [gpu] if kind == "GPU" else [],
        experimental=types.SimpleNamespace(get_device_details=lambda d: {"device_name": "NVIDIA A100-SXM4-40GB"}))
    tensorflow = types.SimpleNamespace(config=tf_config)
    torch = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: False))
    for name, module in (("jax", jax), ("tensorflow", tensorflow), ("torch", torch)):
        monkeypatch.setitem(sys.modules, name, module)
    assert runtime._accelerator("jax") == "2 × NVIDIA H200"
    assert runtime._accelerator("tensorflow") == "NVIDIA A100-SXM4-40GB"
    assert runtime._accelerator("torch") == "none (CPU only)"
    jax.devices = lambda: [device("cpu", "cpu")]
    assert runtime._accelerator("jax") == "none (CPU only)"


def fake_cpu(monkeypatch, tmp_path, flags: str):
    """/proc/cpuinfo as a 2-core AMD EPYC with these flags would write it."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    monkeypatch.setattr(runtime, "CPUINFO", str(cpuinfo))


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse4_2 avx avx2 fma avx512f avx512bw", "AVX-512"),
    ("fpu sse4_2 avx avx2 fma", "AVX2"),
    ("fpu sse4_2", "SSE4.2"),
    ("fp asimd", "unknown"),  # an Arm CPU: none of the x86 extensions
])
def test_a_run_records_the_widest_vector_extension_of_its_cpu(monkeypatch, tmp_path, flags, expected):
    fake_cpu(monkeypatch, tmp_path, flags)
    assert (runtime.cpu_model(), runtime.cpu_vector_extension()) == ("AMD EPYC", expected)


def test_a_machine_without_cpuinfo_still_describes_its_cpu(monkeypatch, tmp_path):
    monkeypatch.setattr(runtime, "CPUINFO", str(tmp_path / "absent"))
    assert runtime.cpu_vector_extension() == "unknown" and runtime.cpu_model()


@pytest.mark.parametrize("flags, model, expected", [
    ("avx avx2", "m5", "torch"),  # without AVX-512, PyTorch trained the zoo's CIFAR models faster
    ("avx avx2 avx512f", "m5", "tensorflow"),
    ("avx avx2", "fast", "tensorflow"),  # one backend for every CPU
    ("avx avx2", "m1", "torch"),  # no CPU_BACKEND: the general order
])
def test_on_cpu_a_model_may_prefer_a_backend_by_vector_extension(monkeypatch, tmp_path, flags, model, expected):
    installed_only(monkeypatch, "keras", "tensorflow", "torch")
    fake_cpu(monkeypatch, tmp_path, flags)
    assert choose(monkeypatch, "cpu", model=model) == expected
