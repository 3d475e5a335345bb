#!/bin/sh
# Entry point of localhost/test-valkey, as in the official valkey image: a first argument that
# starts with '-' or ends in .conf means valkey-server; as root, /data is handed to valkey and
# the server runs as that user.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- valkey-server "$@"; fi
if [ "$1" = valkey-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user valkey -exec chown valkey '{}' +
  exec setpriv --reuid=valkey --regid=valkey --init-groups "$0" "$@"
fi
exec "$@"
