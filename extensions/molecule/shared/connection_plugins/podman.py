# Test bed only: Molecule's podman driver names `ansible_connection: podman` for its hosts, and
# extensions/molecule/config.yml puts this directory first (ANSIBLE_CONNECTION_PLUGINS), so the
# scenarios reach their test hosts through this plugin instead of containers.podman.podman.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""containers.podman.podman with pipelining.

The collection's plugin runs `podman exec` without `-i`, so it cannot pipeline: each module
costs a `podman mount`, a file copy, and two or three `podman exec` (about 0.8 s on two cores).
This one passes the module on stdin (`podman exec -i`), one `podman exec` per module, as
Ansible does over SSH with `pipelining = true` (the collection's ansible.cfg, what users run).
The container's root file system is mounted only for the file transfers of copy and template.
"""

from __future__ import annotations

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect

from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection

DOCUMENTATION = """
    name: podman
    short_description: Run modules in a podman container, pipelined (test bed)
    description:
      - containers.podman.podman with pipelining, for the Molecule scenarios of homelab.immich.
    author: homelab.immich developers
    options:
      remote_addr:
        description: The ID of the container.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: User (name or UID) that runs commands in the container.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments to pass to the podman command line.
        default: ''
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description: Executable for podman command.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
"""


class Connection(PodmanConnection):
    """podman exec -i: modules arrive on stdin."""

    transport = "podman"
    has_pipelining = True

    def _connect(self):
        # no `podman mount` for each task: only put_file/fetch_file need the mount
        ConnectionBase._connect(self)  # pylint: disable=protected-access
        self._connected = True

    def _mount(self):
        if self._mount_point is None:
            super()._connect()

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec"]
        if in_data is not None:
            args.append("-i")
        if self.user:
            args.extend(("--user", self.user))
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)

    def put_file(self, in_path, out_path):
        self._mount()
        super().put_file(in_path, out_path)

    def fetch_file(self, in_path, out_path):
        self._mount()
        super().fetch_file(in_path, out_path)
