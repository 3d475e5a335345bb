#!/bin/bash
# Builds local test images from tests/images/NAME/Containerfile, FROM localhost/molecule-trixie.
#   tests/images/build.sh NAME [NAME ...]
# The build context is tests/images/NAME plus the repository paths listed (one per line) in
# tests/images/NAME/context, copied under the same relative paths. The tag is the hash of the
# context and the base image id, so an image is rebuilt only when its inputs change; it is also
# tagged :latest, which is what scenarios and role variables use.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
base_id=$(podman image inspect --format '{{.Id}}' localhost/molecule-trixie:latest)
for name in "$@"; do
  dir="$root/tests/images/$name"
  [ -f "$dir/Containerfile" ] || { echo "no $dir/Containerfile" >&2; exit 2; }
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  cp -a "$dir/." "$ctx/"
  if [ -f "$dir/context" ]; then
    while read -r p; do
      [ -n "$p" ] && [ "${p#\#}" = "$p" ] || continue
      mkdir -p "$ctx/$(dirname "$p")"
      cp -a "$root/$p" "$ctx/$p"
    done < "$dir/context"
  fi
  find "$ctx" -name __pycache__ -prune -exec rm -rf {} +
  tag=$( (echo "$base_id"; cd "$ctx" && find . -type f | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-12)
  image="localhost/$name"
  if podman image exists "$image:$tag"; then
    echo "image $image:$tag exists"
  else
    echo "building $image:$tag"
    podman build -q --network host -t "$image:$tag" -f "$ctx/Containerfile" "$ctx"
  fi
  podman tag "$image:$tag" "$image:latest"
  echo "$image:$tag"
  rm -rf "$ctx"
  trap - EXIT
done
