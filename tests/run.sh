#!/usr/bin/env bash
# The test suite: everything on the torch backend, the backend-parity subset (-m parity) on
# TensorFlow and JAX. Fails if any run fails or collects no test (pytest exit code 5).
set -u
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONDONTWRITEBYTECODE=1
failed=0
run() {
  local backend=$1; shift
  echo "== KERAS_BACKEND=$backend python -m pytest $*"
  KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider --durations=15 "$@"
  local rc=$?
  if [ "$rc" -eq 5 ]; then echo "!! no test collected for $backend"; fi
  if [ "$rc" -ne 0 ]; then failed=1; fi
}
run torch tests
run tensorflow -m parity tests
run jax -m parity tests
exit $failed
