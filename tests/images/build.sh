#!/usr/bin/env bash
# Builds local test images from tests/images/NAME/Containerfile, FROM localhost/molecule-trixie
# (or another local base image, e.g. localhost/molecule-bookworm, or another test image, which is
# then built first: immich-server-relabel is FROM localhost/immich-server).
#   tests/images/build.sh NAME [NAME ...]
# The build context is tests/images/NAME plus the repository paths listed (one per line) in
# tests/images/NAME/context, copied under the same relative paths. The tag is the hash of the
# context and the base image id, so an image is rebuilt only when its inputs change; it is also
# tagged :latest, which is what scenarios and role variables use.
# Inputs from outside the repository (a source tarball, npm packages) are put into the context by
# tests/images/NAME/fetch.sh, run only when the image is built; that script pins their versions
# and checksums, so its own hash stands for them. The build machine's CA bundle is passed as the
# build secret `ca` (RUN --mount=type=secret,id=ca), never stored in an image.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
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
  # a base image that is itself a test image (FROM localhost/immich-server) is built first
  for base in $(sed -n 's/^FROM localhost\/\([^: ]*\).*/\1/p' "$dir/Containerfile" | sort -u); do
    [ ! -f "$root/tests/images/$base/Containerfile" ] || "$0" "$base"
  done
  # the ids of the local base images (FROM localhost/...) are inputs too
  base_id=$(sed -n 's/^FROM \(localhost\/[^ ]*\).*/\1/p' "$dir/Containerfile" | sort -u |
    xargs -r podman image inspect --format '{{.Id}}')
  tag=$( (echo "$base_id"; cd "$ctx" && find . -type f | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-12)
  image="localhost/$name"
  if podman image exists "$image:$tag"; then
    echo "image $image:$tag exists"
  else
    echo "building $image:$tag"
    start=$SECONDS
    [ ! -x "$dir/fetch.sh" ] || "$dir/fetch.sh" "$ctx"
    # --ulimit: the host's containers.conf caps open files at 1024 (ci/host-setup.sh), too few
    # for the web UI's bundler (vite writes its chunks in parallel: EMFILE); as many as this
    # shell may open (a build cannot raise it above that), at most 65536
    nofile=$(ulimit -Hn)
    [ "$nofile" != unlimited ] && [ "$nofile" -le 65536 ] || nofile=65536
    podman build -q --format docker --network host --ulimit "nofile=$nofile:$nofile" --secret "id=ca,src=${BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}" \
      -t "$image:$tag" -f "$ctx/Containerfile" "$ctx"
    echo "built $image:$tag in $((SECONDS - start)) s"
  fi
  podman tag "$image:$tag" "$image:latest"
  echo "$image:$tag"
  rm -rf "$ctx"
  trap - EXIT
done
