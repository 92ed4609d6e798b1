# Two commands on a fresh machine: `make demo` runs the offline demo, `make test` the tests.
# Both create .venv with install.sh when it is missing (TORCH_SPEC picks the torch build).
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2

.PHONY: demo test

demo: $(BIN)/snakemake
	$(BIN)/snakemake --cores $(CORES)

test: $(BIN)/snakemake
	$(BIN)/pytest

$(BIN)/snakemake:
	./install.sh
