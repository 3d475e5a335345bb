#!/bin/bash
# Builds a local test image without any registry: tests/images/NAME/Containerfile, context tests/.
#   tests/images/build.sh NAME     ->  localhost/NAME:<hash> and localhost/NAME:latest
# The tag is the hash of the inputs (this script, the Containerfile, every file its COPY/ADD lines
# name); an existing tag is not rebuilt. Images build FROM localhost/molecule-trixie:latest
# (`make image`). Scenarios load them into test hosts with `podman save | podman exec -i HOST podman load`.
set -euo pipefail
NAME=${1:?usage: tests/images/build.sh NAME}
HERE=$(cd "$(dirname "$0")" && pwd)
CONTEXT=$(dirname "$HERE")
FILE=$HERE/$NAME/Containerfile
[ -f "$FILE" ] || { echo "no $FILE" >&2; exit 2; }
export PODMAN_IGNORE_CGROUPSV1_WARNING=1

# COPY/ADD sources (relative to the context), flags and the destination left out
mapfile -t SOURCES < <(awk 'toupper($1) == "COPY" || toupper($1) == "ADD" {
  n = 0; for (i = 2; i <= NF; i++) if ($i !~ /^--/) args[++n] = $i
  for (i = 1; i < n; i++) print args[i] }' "$FILE")
inputs() {
  printf '%s\n' "$0" "$FILE"
  for src in "${SOURCES[@]}"; do
    find "$CONTEXT/$src" -type f ! -name '*.pyc' ! -path '*/__pycache__/*'
  done | LC_ALL=C sort
}
TAG=$(inputs | while read -r f; do printf '%s\n' "${f#"$CONTEXT"/}"; cat "$f"; done | sha256sum | cut -c1-12)
IMAGE=localhost/$NAME
if podman image exists "$IMAGE:$TAG"; then
  echo "image $IMAGE:$TAG exists"
else
  echo "building $IMAGE:$TAG"
  podman build --quiet --format docker --file "$FILE" --tag "$IMAGE:building" "$CONTEXT"
  podman tag "$IMAGE:building" "$IMAGE:$TAG"
  podman untag "$IMAGE:$TAG" "$IMAGE:building" 2>/dev/null || podman untag "$IMAGE:building"
fi
podman tag "$IMAGE:$TAG" "$IMAGE:latest"
echo "$IMAGE:$TAG"
