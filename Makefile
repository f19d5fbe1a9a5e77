# The README's commands. `.ci/run` calls `make test`.
# pyproject.toml lists what cgan needs: generation alone (numpy, pillow, onnxruntime, pydantic, tomli-w) by default,
# the training stack through its extras. constraints-cpu.txt pins the versions tested on our CPU-only machines,
# CPU builds of TensorFlow and PyTorch included; on a GPU machine install an extra without it: pip install -e ".[tf]".
CGAN_DATA_DIR ?= $(abspath ../shared/datasets)
export CGAN_DATA_DIR
PIP_INSTALL = python -m pip install -q -c constraints-cpu.txt
# tests/notebook/test_voila_page.py drives Debian's chromium (Playwright's own browser download needs internet).
CHROMIUM ?= /usr/bin/chromium
APT_GET ?= apt-get
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: install install-generate install-dev browser test test-quick generate
install-generate:
	$(PIP_INSTALL) -e .

install:
	$(PIP_INSTALL) -e ".[tf-cpu,torch]"

install-dev:
	$(PIP_INSTALL) -e ".[tf-cpu,torch,jax,dev]"

browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	    echo "$(CHROMIUM) is missing: installing Debian's chromium"; \
	    $(SUDO) $(APT_GET) update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q chromium; \
	fi

# make generate LABEL=7 OUT=seven.png: only the generation set; the shipped generator runs on ONNX Runtime.
LABEL ?= 7
OUT ?= seven.png
generate: install-generate
	cgan generate --dataset mnist --label $(LABEL) --out $(OUT)

# -n auto: one pytest-xdist worker per core; --dist loadgroup keeps the tests that share an expensive module
# fixture (marked xdist_group) in one worker, so it is built once.
PYTEST = python -m pytest -q -n auto --dist loadgroup

test: install-dev browser
	$(PYTEST)

# Everything but the tests marked slow (they train a model or spawn a process), for a quick check while editing.
test-quick: install-dev
	$(PYTEST) -m "not slow"
