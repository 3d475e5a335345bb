#!/usr/bin/env bash
# Copies local test images into the shared, read-only image store that Molecule test hosts mount
# (TEST_IMAGE_STORE, default /var/lib/immich-test-store, mounted at /var/lib/shared-images and
# named in their /etc/containers/storage.conf as an additional image store; see
# extensions/molecule/shared/load_images.yml). A host then runs the images without a copy of its
# own: no `podman save | podman load` per host (a minute for the Immich images), no tmpfs memory.
# An image is copied only when the store holds another id under its name.
#   tests/images/publish.sh NAME [NAME ...]      (localhost/NAME:latest, built by build.sh)
set -euo pipefail
store=${TEST_IMAGE_STORE:-/var/lib/immich-test-store}
sp=(podman --root "$store" --runroot "/run/$(basename "$store")" --storage-driver overlay)
todo=()
for name in "$@"; do
  ref="localhost/$name:latest"
  id=$(podman image inspect --format '{{.Id}}' "$ref")
  [ "$("${sp[@]}" image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)" = "$id" ] || todo+=("$ref")
done
if [ ${#todo[@]} -gt 0 ]; then
  echo "publishing to $store: ${todo[*]}"
  podman save -q -m --format docker-archive "${todo[@]}" | "${sp[@]}" load -q
  "${sp[@]}" image prune -f >/dev/null
fi
echo "$store: $("${sp[@]}" images --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')"
