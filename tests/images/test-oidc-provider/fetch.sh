#!/usr/bin/env bash
# The same inputs as localhost/immich-server (the source tarball, Node.js and pnpm from the npm
# registry, pinned there), put into the build context ($1) only when the image must be built.
set -euo pipefail
"$(dirname "$0")/../immich-server/fetch.sh" "$1"
