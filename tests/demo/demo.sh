#!/usr/bin/env bash
# Brings the all-in-one Immich of the Molecule scenario `all_in_one` up on this machine (or down),
# and prints where it answers and where the admin credentials are.
#   tests/demo/demo.sh up     # create + prepare + converge (again: converge only)
#   tests/demo/demo.sh down   # destroy
# Molecule's state, the generated secrets and the API key live under .demo/all_in_one (gitignored).
# The Immich images are the real v3.1.0 server and ML built from source (make images); with
# DEMO_IMAGES=official the official images are pulled instead (a machine that reaches ghcr.io).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/.collections PODMAN_IGNORE_CGROUPSV1_WARNING=1
export MOLECULE_EPHEMERAL_DIRECTORY=$PWD/.demo/all_in_one
mkdir -p "$MOLECULE_EPHEMERAL_DIRECTORY"
host=aio-server
extra=()
if [ "${DEMO_IMAGES:-local}" = official ]; then
  export IMMICH_TEST_IMAGES=official   # extensions/molecule/shared/load_images.yml builds and loads nothing
  extra=(-e immich_server_image=ghcr.io/immich-app/immich-server:v3.1.0
         -e immich_ml_image=ghcr.io/immich-app/immich-machine-learning:v3.1.0)
fi
mkdir -p /var/lib/immich-test-store   # the test host mounts the shared image store (tests/images/publish.sh)
case "${1:-up}" in
  up)
    if ! podman container exists "$host"; then
      molecule create -s all_in_one
      molecule prepare -s all_in_one --force
    fi
    molecule converge -s all_in_one -- "${extra[@]}"
    addr=$(podman inspect "$host" --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}')
    secrets=$MOLECULE_EPHEMERAL_DIRECTORY/secrets
    pong=$(podman exec "$host" curl -fsS http://127.0.0.1:2283/api/server/ping || true)
    cat <<MSG

Immich v3.1.0 (all in one) is up in the test host '$host':
  inside the host:  http://127.0.0.1:2283   (podman exec $host curl -s http://127.0.0.1:2283/api/server/ping -> $pong)
  mesh address:     http://$addr:2283       (published on the test host's LAN address; its firewall admits only
                    the addresses in firewall_immich_allowed, which this machine is not among)
  admin login:      admin@example.com
  admin password:   $secrets/immich_admin_password   (0600)
  API key:          $secrets/immich_api_key          (0600)
  try:              podman exec $host curl -s -H "x-api-key: \$(cat $secrets/immich_api_key)" http://127.0.0.1:2283/api/system-config
  shell:            podman exec -it $host bash     (systemctl status immich-server immich-ml postgresql)
  tear down:        make demo-down
MSG
    ;;
  down)
    molecule destroy -s all_in_one
    rm -rf "$MOLECULE_EPHEMERAL_DIRECTORY"
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
