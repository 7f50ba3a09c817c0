.PHONY: setup demo test lint bench bench-callbacks
setup: ; bin/setup --system
demo: ; bin/demo
test: ; bin/test
lint: ; .venv/bin/ruff check totalplace dashboards tests benchmarks && .venv/bin/mypy && .venv/bin/lint-imports
bench: ; .venv/bin/python benchmarks/run_all.py
bench-callbacks: ; .venv/bin/python benchmarks/bench_callbacks.py --workspace workspace --rounds 3
