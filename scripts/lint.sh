#!/usr/bin/env bash
# Lint and type-check cora: ruff over the whole tree, mypy over the installed package `cora`.
# Run by `make test` (and `make lint`); exits non-zero on any finding.
#
# mypy cannot follow setuptools' package-dir mapping (cora.compiler -> compiler/ ...), so the
# package is laid out as links under build/typecheck/cora/ and checked from there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

"$VENV/bin/ruff" check --quiet .

tree=build/typecheck
rm -rf "$tree"
mkdir -p "$tree/cora"
for f in cora/*.py; do ln -s "$PWD/$f" "$tree/cora/"; done
for d in compiler targets runtime netfuncs certify testbed ina; do ln -s "$PWD/$d" "$tree/cora/$d"; done
(cd "$tree" && "$OLDPWD/$VENV/bin/mypy" --config-file "$OLDPWD/pyproject.toml" -p cora)
