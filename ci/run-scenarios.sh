#!/bin/bash
# Runs Molecule scenarios, MOLECULE_JOBS at a time (default 3): each scenario is its own
# `molecule` process with its own hosts and network, so they are independent (never
# `molecule --workers`, which shares state). For each scenario: destroy, syntax, create, prepare,
# converge, idempotence (0 changed), verify, then a check-mode converge that must report
# changed=0 on every host, then destroy. Slow scenarios start first. Each scenario's output goes
# to build/molecule-logs/<scenario>.log; the tail of a failed one is printed.
# Usage: ci/run-scenarios.sh [scenario ...]   (default: every scenario)
set -uo pipefail
cd "$(dirname "$0")/.."
export PODMAN_IGNORE_CGROUPSV1_WARNING=1 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1 PY_COLORS=0
JOBS=${MOLECULE_JOBS:-3}
SLOW_FIRST=(defaults job_workers fleet day_two pg_upgrade all_in_one data_tier rootless network gpu)
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  all=()
  for f in extensions/molecule/*/molecule.yml; do all+=("$(basename "$(dirname "$f")")"); done
  for s in "${SLOW_FIRST[@]}"; do [[ " ${all[*]} " == *" $s "* ]] && scenarios+=("$s"); done
  for s in "${all[@]}"; do [[ " ${scenarios[*]} " == *" $s "* ]] || scenarios+=("$s"); done
fi
logdir=build/molecule-logs
rm -rf "$logdir" && mkdir -p "$logdir"

# build every local test image once and publish it to the shared image store that test hosts
# mount read-only, before scenarios start in parallel
mapfile -t images < <(for f in tests/images/*/Containerfile; do basename "$(dirname "$f")"; done)
if [ ${#images[@]} -gt 0 ]; then
  tests/images/build.sh "${images[@]}" && tests/images/publish.sh "${images[@]}" || exit 1
fi

run_one() {
  local s=$1 log=$logdir/$1.log start=$SECONDS ok=1
  {
    molecule destroy -s "$s" || true   # `--destroy never` below also skips the first destroy
    molecule test -s "$s" --destroy never || ok=0
    if [ $ok -eq 1 ]; then
      echo "--- $s: check-mode pass (must change nothing)"
      molecule converge -s "$s" -- --check > "$logdir/$s-check.log" 2>&1 || ok=0
      cat "$logdir/$s-check.log"
      python3 ci/recap_unchanged.py "$logdir/$s-check.log" || ok=0
    fi
    molecule destroy -s "$s" || true
  } > "$log" 2>&1
  if [ $ok -eq 1 ]; then
    echo "=== scenario $s passed in $((SECONDS - start)) s"
    touch "$logdir/$s.passed"
  else
    echo "=== scenario $s FAILED after $((SECONDS - start)) s; end of $log:"
    grep -v '^\s*$' "$log" | tail -n 60 | sed "s/^/  [$s] /"
  fi
}

echo "molecule: ${#scenarios[@]} scenario(s), $JOBS at a time: ${scenarios[*]}"
for s in "${scenarios[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  echo "=== scenario $s started"
  run_one "$s" &
  sleep 5   # stagger the container starts
done
wait
pass=0 fail=0 failed=()
for s in "${scenarios[@]}"; do
  if [ -e "$logdir/$s.passed" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); failed+=("$s"); fi
done
[ $fail -eq 0 ] || echo "failed scenarios: ${failed[*]}"
echo "molecule: $pass passed, $fail failed"
[ $fail -eq 0 ]
