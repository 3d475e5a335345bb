#!/usr/bin/env bash
# Inputs that are not in this repository, put into the build context ($1) by tests/images/build.sh
# only when the image must be built. Versions and checksums are pinned here and in
# immich-source.sh, so their hashes (part of the image tag) change whenever an input changes.
set -euo pipefail
"$(dirname "$0")/../immich-source.sh" "$1"
