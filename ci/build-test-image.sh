#!/bin/bash
# Builds the Debian trixie systemd image that Molecule test hosts boot, without any registry:
# mmdebstrap -> tar on stdout -> podman import. Tagged by the hash of this recipe, so it is
# rebuilt only when the recipe changes (or when REFRESH is set, e.g. to pick up point releases).
set -euo pipefail
SUITE=${SUITE:-trixie}
PKGS=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,iproute2,nftables,podman,crun,aardvark-dns,ca-certificates,procps,curl
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1735689600}
TAG=$( (cat "$0"; echo "${REFRESH:-}") | sha256sum | cut -c1-12)
IMAGE=localhost/molecule-${SUITE}
if podman image exists "$IMAGE:$TAG"; then
  echo "image $IMAGE:$TAG exists"
else
  command -v mmdebstrap >/dev/null || apt-get install -y -qq mmdebstrap
  echo "building $IMAGE:$TAG (about a minute)"
  mmdebstrap --quiet --variant=minbase --include="$PKGS" \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='echo localhost > "$1/etc/hostname"' \
    --customize-hook='ln -sf /dev/null "$1/etc/systemd/system/systemd-modules-load.service"' \
    --customize-hook='printf "PODMAN_IGNORE_CGROUPSV1_WARNING=1\n" >> "$1/etc/environment"' \
    "$SUITE" - \
  | podman import --change 'CMD=["/sbin/init"]' --change 'STOPSIGNAL=SIGRTMIN+3' - "$IMAGE:building"
  # tag only after the whole pipeline succeeded (a partial import must never be reused)
  podman tag "$IMAGE:building" "$IMAGE:$TAG"
  podman untag "$IMAGE:$TAG" "$IMAGE:building"
fi
podman tag "$IMAGE:$TAG" "$IMAGE:latest"
