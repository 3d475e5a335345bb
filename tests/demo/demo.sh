#!/usr/bin/env bash
# `make demo`: a small homelab on this machine, converged by site.yml with the demo inventory
# (tests/demo/inventory): demo-server (the real Immich v3.1.0 with its web UI, PostgreSQL, Valkey,
# the ML balancer) and two ML workers, demo-worker1 and demo-worker2, each a systemd test container
# (localhost/molecule-trixie) on the podman network demo-net. Immich's port is published on this
# machine's loopback only: http://127.0.0.1:$DEMO_PORT (default 2283).
#   tests/demo/demo.sh up        # containers (when missing) + site.yml (again: converge only)
#   tests/demo/demo.sh photos    # upload the generated sample photos as the admin, wait for the jobs
#   tests/demo/demo.sh status    # one line: each ML worker's state and the requests it served
#   tests/demo/demo.sh sleep [demo-worker2]   # the laptop goes to sleep (its container stops)
#   tests/demo/demo.sh wake  [demo-worker2]   # and wakes up
#   tests/demo/demo.sh browse    # the browser test (tests/demo/immich_demo.py): screenshots in build/browser
#   tests/demo/demo.sh down      # remove everything the demo created (containers, network, secrets)
# The images are the real server (+ web UI) and ML built from source (make images); with
# DEMO_IMAGES=official the official images are pulled instead (a machine that reaches ghcr.io).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/.collections PODMAN_IGNORE_CGROUPSV1_WARNING=1
export ANSIBLE_FORCE_COLOR=${ANSIBLE_FORCE_COLOR:-0}
net=demo-net
server=demo-server
workers=(demo-worker1 demo-worker2)
port=${DEMO_PORT:-2283}
inventory=tests/demo/inventory
secrets=$PWD/$inventory/.secrets
store=${TEST_IMAGE_STORE:-/var/lib/immich-test-store}
email=$(sed -n 's/^immich_admin_email: *//p' "$inventory/group_vars/all.yml")
url=http://127.0.0.1:$port

gateway() { podman network inspect "$net" --format '{{range .Subnets}}{{.Gateway}}{{end}}'; }

create() {
  # the network, then the hosts with fixed addresses (.10, .11, .12 of its subnet), so that a worker
  # that sleeps and wakes keeps its address, as a laptop keeps its DHCP lease
  podman network exists "$net" || podman network create "$net" >/dev/null
  local gw prefix i=10
  gw=$(gateway)
  prefix=${gw%.*}
  for host in "$server" "${workers[@]}"; do
    if ! podman container exists "$host"; then
      local publish=()
      [ "$host" != "$server" ] || publish=(-p "127.0.0.1:$port:2283")
      podman run -d --name "$host" --hostname "$host" --network "$net" --ip "$prefix.$i" "${publish[@]}" \
        --privileged --systemd always --tmpfs /var/lib/containers:rw,exec,mode=0700 \
        -v "$store:/var/lib/shared-images:ro" localhost/molecule-trixie:latest /sbin/init >/dev/null
      echo "created $host ($prefix.$i)"
    fi
    i=$((i + 1))
  done
}

playbook() {
  ansible-playbook -i "$inventory" -e "demo_host_address=$(gateway)" "$@"
}

case "${1:-up}" in
  up)
    extra=()
    if [ "${DEMO_IMAGES:-local}" = official ]; then
      extra=(-e immich_server_image=ghcr.io/immich-app/immich-server:v3.1.0
             -e immich_ml_image=ghcr.io/immich-app/immich-machine-learning:v3.1.0)
    else
      # built only when their inputs changed (the web UI's first build: a few minutes), then
      # published to the read-only store the demo hosts mount
      tests/images/build.sh immich-server immich-web immich-machine-learning
      mkdir -p "$store"
      tests/images/publish.sh immich-web immich-machine-learning
    fi
    create
    playbook tests/demo/prepare.yml
    playbook site.yml "${extra[@]}"
    # what a newcomer does first: open the URL; it must answer here before we say so
    for _ in $(seq 60); do curl -fsS -o /dev/null "$url/auth/login" && break; sleep 2; done
    curl -fsS -o /dev/null "$url/auth/login"
    cat <<MSG

Immich v3.1.0 is up: a server and two ML workers in the podman containers $server, ${workers[*]}.

  open:      $url
  sign in:   $email
  password:  $secrets/immich_admin_password   (generated, 0600; e.g. cat it)

Try:
  make demo-photos     upload the generated sample photos (EXIF dates and places) and wait for the jobs
  make demo-status     each ML worker's state and the requests it served (the balancer's own counters)
  make demo-sleep      demo-worker2 (the laptop) goes to sleep: the balancer moves the work to demo-worker1
  make demo-wake       it wakes up and takes its share again
  make demo-down       remove the demo (containers, network, secrets)
MSG
    ;;
  photos)
    python tests/demo/immich_demo.py photos --url "$url" --admin-email "$email" \
      --admin-password-file "$secrets/immich_admin_password" --count "${DEMO_PHOTOS:-12}"
    echo "open $url: the photos are in the timeline; search e.g. 'a photo' (smart search)"
    ;;
  browse)
    python tests/demo/immich_demo.py browse --url "$url" --admin-email "$email" \
      --admin-password-file "$secrets/immich_admin_password" --screenshots build/browser
    ;;
  status)
    # HAProxy's statistics through its admin socket on the server (ml_probe.py stats), one line
    podman exec -i "$server" python3 - stats < extensions/molecule/defaults/files/ml_probe.py |
      python tests/demo/immich_demo.py status-line
    ;;
  sleep)
    podman stop -t 5 "${2:-demo-worker2}" >/dev/null && echo "${2:-demo-worker2} is asleep (make demo-status)"
    ;;
  wake)
    podman start "${2:-demo-worker2}" >/dev/null && echo "${2:-demo-worker2} is waking up: its ML service starts in a few seconds (make demo-status)"
    ;;
  down)
    for host in "$server" "${workers[@]}"; do
      ! podman container exists "$host" || podman rm -f -t 5 "$host" >/dev/null
    done
    ! podman network exists "$net" || podman network rm "$net" >/dev/null
    rm -rf "$secrets"
    echo "demo removed (containers ${server} ${workers[*]}, network $net, $secrets)"
    ;;
  *)
    echo "usage: $0 up|photos|status|sleep|wake|browse|down" >&2
    exit 2
    ;;
esac
