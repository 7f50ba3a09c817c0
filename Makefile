.PHONY: setup demo test lint
setup: ; bin/setup --system
demo: ; bin/demo
test: ; bin/test
lint: ; .venv/bin/ruff check totalplace dashboards tests && .venv/bin/mypy && .venv/bin/lint-imports
