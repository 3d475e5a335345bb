#!/bin/bash
# Runs Molecule scenarios one after another (never --workers: scenarios are independent).
# For each: destroy, syntax, create, prepare, converge, idempotence (0 changed), verify,
# then a check-mode converge that must report changed=0 on every host, then destroy.
# Usage: ci/run-scenarios.sh [scenario ...]   (default: every scenario)
set -uo pipefail
cd "$(dirname "$0")/.."
export PODMAN_IGNORE_CGROUPSV1_WARNING=1
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  for f in extensions/molecule/*/molecule.yml; do scenarios+=("$(basename "$(dirname "$f")")"); done
fi
pass=0 fail=0 failed=()
logdir=build/molecule-logs
mkdir -p "$logdir"
for s in "${scenarios[@]}"; do
  start=$SECONDS
  echo "=== scenario $s"
  ok=1
  molecule destroy -s "$s" >/dev/null 2>&1 || true   # --destroy never below also skips the first destroy
  molecule test -s "$s" --destroy never || ok=0
  if [ $ok -eq 1 ]; then
    echo "--- $s: check-mode pass (must change nothing)"
    molecule converge -s "$s" -- --check 2>&1 | tee "$logdir/$s-check.log" || ok=0
    if [ $ok -eq 1 ] && ! python3 ci/recap_unchanged.py "$logdir/$s-check.log"; then ok=0; fi
  fi
  molecule destroy -s "$s" >/dev/null 2>&1 || true
  if [ $ok -eq 1 ]; then
    pass=$((pass + 1)); echo "=== scenario $s passed in $((SECONDS - start)) s"
  else
    fail=$((fail + 1)); failed+=("$s"); echo "=== scenario $s FAILED after $((SECONDS - start)) s"
  fi
done
[ $fail -eq 0 ] || echo "failed scenarios: ${failed[*]}"
echo "molecule: $pass passed, $fail failed"
[ $fail -eq 0 ]
