# The two commands of the README. `.ci/run` calls `make test`.
CGAN_DATA_DIR ?= $(abspath ../shared/datasets)
export CGAN_DATA_DIR

.PHONY: install install-dev test generate
install:
	python -m pip install -q -r requirements.txt && python -m pip install -q --no-deps -e .

install-dev:
	python -m pip install -q -r requirements-dev.txt && python -m pip install -q --no-deps -e .

# make generate LABEL=7 OUT=seven.png
LABEL ?= 7
OUT ?= seven.png
generate: install
	cgan generate --dataset mnist --label $(LABEL) --out $(OUT)

test: install-dev
	python -m pytest -q
