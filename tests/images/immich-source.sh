#!/usr/bin/env bash
# Copies the Immich v3.1.0 source tarball into a build context ($1) as immich-src.tar.gz, after
# checking its sha256. Used by the fetch.sh of localhost/immich-server and
# localhost/immich-machine-learning (both list this file in their `context`, so its hash,
# and the checksum in it, are part of their tags). IMMICH_SRC_TARBALL overrides the path.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
src=${IMMICH_SRC_TARBALL:-$root/../shared/immich/immich-3.1.0-src.tar.gz}
echo "94af641baafd3ed3d2516cbce6f827a59915e4e2f4602ee278d6ef2f8980fa5a  $src" | sha256sum -c --quiet
cp "$src" "$1/immich-src.tar.gz"
