#!/usr/bin/env bash
# The test suite: everything on the torch backend, the backend-parity subset (-m parity) on
# TensorFlow and JAX. Fails if any run fails or collects no test (pytest exit code 5).
# The JAX run (the longest parity run: XLA compiles per shape) goes in the background beside
# torch -> TensorFlow (on 2 cores: ~13 instead of ~17 minutes); its output follows theirs. The
# runs share nothing on disk but read-only data: every test writes under its own tmp_path.
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
  return $rc
}
jax_log=$(mktemp)
trap 'rm -f "$jax_log"' EXIT
run jax -m parity tests > "$jax_log" 2>&1 &
jax_pid=$!
run torch tests || failed=1
run tensorflow -m parity tests || failed=1
wait "$jax_pid" || failed=1
cat "$jax_log"
exit $failed
