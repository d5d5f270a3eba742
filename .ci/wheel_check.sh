#!/usr/bin/env bash
# CI stage: the package as a user installs it. Builds the sdist and the wheel (python -m build),
# checks them (twine check --strict), installs the wheel into a fresh venv together with the
# declared Keras floor (the oldest Keras the package claims to support) and torch==2.13.0 (this
# machine's local CPU wheel, as in the README), then, from a folder outside the checkout:
#   - the installed package lists every manifest of zoo_weights/ (the zoo ships in the wheel);
#   - `snnzoo eval fsnn_fmnist_ide --limit 500` runs the main job on the real data;
#   - `snnzoo train tiny_fmnist` runs the training entry point of the installed package;
#   - a quick test subset (TDBatchNorm, zoo loading, training entry) passes on the Keras floor.
# Prints the stage's wall time. Exit code 0 only if every step passed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
data=${SNNZOO_DATA:-$root/../shared/data}
data=$(cd "$data" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
step() { echo "== wheel_check: $* ($((SECONDS - start)) s)"; }

step "python -m build"
python -m build --outdir "$tmp/dist" . >"$tmp/build.log" 2>&1 || { tail -30 "$tmp/build.log"; echo "wheel_check: build failed"; exit 1; }
whl=$(ls "$tmp"/dist/snnzoo-*.whl)
ls "$tmp/dist"

step "twine check"
python -m twine check --strict "$tmp"/dist/*

keras_floor=$(python - <<'EOF'
import re, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print(next(re.fullmatch(r"keras>=([0-9.]+)", d).group(1) for d in deps if d.startswith("keras")))
EOF
)
step "fresh venv: torch==2.13.0 keras==$keras_floor (the declared floor) + the wheel"
python -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q torch==2.13.0 "keras==$keras_floor" pytest "$whl" 2>&1 \
  | grep -v "^WARNING: Location" || true
"$tmp/venv/bin/python" -m pip show keras snnzoo 2>/dev/null | grep -E "^(Name|Version)"
"$tmp/venv/bin/python" -m pip check

# From outside the checkout: nothing of the source tree is importable from there.
mkdir "$tmp/user" && cd "$tmp/user"
# No KERAS_BACKEND and a fresh Keras home: the venv has no TensorFlow (Keras' default), so
# import snnzoo must pick torch by itself, as for a user with a torch-only installation.
unset KERAS_BACKEND
export KERAS_HOME="$tmp/keras_home" SNNZOO_DATA="$data" SNNZOO_HOME="$tmp/home"
step "installed package lists the zoo"
"$tmp/venv/bin/python" - "$root/zoo_weights" <<'EOF'
import pathlib, sys
import snnzoo  # first: it picks an installed backend when KERAS_BACKEND is unset
import keras
assert keras.backend.backend() == "torch", f"backend {keras.backend.backend()}, expected torch"
where = pathlib.Path(snnzoo.__file__).parent
want = sorted(p.stem for p in pathlib.Path(sys.argv[1]).glob("*.json"))
got = sorted(snnzoo.list_models())
assert "site-packages" in str(where), f"imported snnzoo from {where}, not from the installed wheel"
assert got == want, f"installed zoo lists {got}, zoo_weights/ has {want}"
print(f"{len(got)} zoo models from {where}")
EOF
step "snnzoo eval fsnn_fmnist_ide --limit 500"
"$tmp/venv/bin/snnzoo" eval fsnn_fmnist_ide --limit 500 -q
step "snnzoo train tiny_fmnist (installed training entry point)"
"$tmp/venv/bin/snnzoo" train tiny_fmnist --limit 64 --epochs 1 --out "$tmp/user/runs/smoke" -q
test -f "$tmp/user/runs/smoke/results.json"

step "test subset on keras $keras_floor"
# Keras-sensitive tests (TDBatchNorm, fit/callbacks/resume, zoo loading, evaluation) on the floor;
# run from the checkout, so they import its snnzoo (the same code as the wheel's).
(cd "$root" && KERAS_BACKEND=torch "$tmp/venv/bin/python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning \
  tests/test_layers_time_norm.py tests/test_training_entry.py tests/test_zoo_registry.py \
  tests/test_evaluate.py)
step "done"
echo "wheel_check: passed in $((SECONDS - start)) s"
