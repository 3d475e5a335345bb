#!/bin/bash
# The checks before the Molecule scenarios, in three chains at once: most of them use one core
# (ansible-lint, pylint in ansible-test sanity), so the second core builds the test images (long
# on a cold machine: the real Immich from source) and runs the playbook tests meanwhile.
#   lint, argspecs, unit, sanity | integration, validation | images, ml-unit
# Each chain stops at its first failure; every chain's output is printed (in this order) when all
# are done, with its time; the script fails when any chain failed.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=build/checks
rm -rf "$dir" && mkdir -p "$dir"
chains=("lint argspecs unit sanity" "integration validation" "images ml-unit")
pids=()
for i in "${!chains[@]}"; do
  (
    start=$SECONDS
    # shellcheck disable=SC2086  # the targets are words
    make --no-print-directory ${chains[$i]}
    rc=$?
    echo "--- make ${chains[$i]}: rc $rc in $((SECONDS - start)) s"
    exit $rc
  ) > "$dir/$i.log" 2>&1 &
  pids+=($!)
done
failed=()
for i in "${!chains[@]}"; do
  wait "${pids[$i]}" || failed+=("${chains[$i]}")
done
for i in "${!chains[@]}"; do
  echo "=== make ${chains[$i]}"
  cat "$dir/$i.log"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "checks failed: ${failed[*]}"
  exit 1
fi
