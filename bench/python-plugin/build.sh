#!/usr/bin/env bash
# Builds the benchmark's Python-sized plugin (app.py) into app.wasm with componentize-py.
# Usage: build.sh [OUTDIR]   (default: this directory; app.wasm is ignored by git)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

venv="$root/.venv"
cpy="$venv/bin/componentize-py"
if ! "$cpy" --version 2>/dev/null | grep -q '^componentize-py 0\.25\.'; then
    "$venv/bin/pip" install --quiet "componentize-py==0.25.*"
fi

# Built in a scratch directory so the source tree stays clean (no __pycache__);
# componentize generates the wit_world bindings itself.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/app.py" "$work/"
cd "$work"
"$cpy" -d "$root/wit" -w plugin componentize -p . app -o "$out/app.wasm"
echo "built $out/app.wasm ($(stat -c %s "$out/app.wasm") bytes)"
