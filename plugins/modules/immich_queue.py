#!/usr/bin/python
# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
---
module: immich_queue
short_description: Pause, resume, start or inspect an Immich job queue
description:
  - Works on one Immich job queue (C(smartSearch), C(faceDetection), C(ocr) ...), for example to
    re-queue machine-learning work after ML workers come back.
  - Uses the queues API (C(GET/PUT /api/queues/{name})) where the server has it, and the legacy
    jobs API (C(GET /api/jobs), C(PUT /api/jobs/{name})) otherwise. Starting a queue always uses
    C(PUT /api/jobs/{name}) with the command C(start), which Immich v3.1 still serves.
version_added: 0.1.0
author:
  - homelab.immich contributors (@homelab-immich)
extends_documentation_fragment:
  - homelab.immich.immich
  - ansible.builtin.action_common_attributes
options:
  api_key:
    description:
      - API key with the permissions C(queue.read) and C(queue.update) (queues API) and
        C(job.read) and C(job.create) (legacy jobs API, and O(command=start)).
    type: str
    required: true
  name:
    description: The queue.
    type: str
    required: true
    choices:
      - thumbnailGeneration
      - metadataExtraction
      - videoConversion
      - faceDetection
      - facialRecognition
      - smartSearch
      - duplicateDetection
      - backgroundTask
      - storageTemplateMigration
      - migration
      - search
      - sidecar
      - library
      - notifications
      - backupDatabase
      - ocr
      - workflow
      - integrityCheck
      - editor
  command:
    description:
      - V(inspect) only reads the queue (never changed).
      - V(pause) and V(resume) change the queue only when it is not already in that state.
      - V(start) queues work for the assets (always changed).
    type: str
    default: inspect
    choices: [inspect, pause, resume, start]
  force:
    description:
      - With O(command=start), V(false) queues only the assets that miss this job's results (the
        admin UI's "Missing"), V(true) queues all assets (the UI's "All").
    type: bool
    default: false
attributes:
  platform:
    support: full
    platforms: posix
  check_mode:
    support: full
    details: Reads the queue and reports what the command would change; sends no C(PUT).
  diff_mode:
    support: full
    details: The queue's paused state before and after.
"""

EXAMPLES = r"""
- name: Queue smart search for the assets that miss it (after the ML workers came back)
  homelab.immich.immich_queue:
    url: http://127.0.0.1:2283
    api_key: "{{ immich_api_key }}"
    name: smartSearch
    command: start

- name: Pause face detection while the GPU workers are away
  homelab.immich.immich_queue:
    url: http://127.0.0.1:2283
    api_key: "{{ immich_api_key }}"
    name: faceDetection
    command: pause

- name: Read a queue's counters
  homelab.immich.immich_queue:
    url: http://127.0.0.1:2283
    api_key: "{{ immich_api_key }}"
    name: ocr
  register: ocr_queue
"""

RETURN = r"""
queue:
  description: The queue after the command (before it, in check mode).
  returned: success
  type: dict
  contains:
    name:
      description: The queue's name.
      type: str
    isPaused:
      description: Whether the queue is paused.
      type: bool
    statistics:
      description: Job counts (active, completed, delayed, failed, paused, waiting).
      type: dict
  sample:
    name: smartSearch
    isPaused: false
    statistics: {active: 0, completed: 0, delayed: 0, failed: 0, paused: 0, waiting: 12}
api:
  description: Which API the server offered for the queue state, C(queues) or the legacy C(jobs).
  returned: success
  type: str
  sample: queues
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homelab.immich.plugins.module_utils.immich_api import (
    ImmichAPIError,
    client_from_module,
    immich_argument_spec,
    segment,
)

QUEUE_NAMES = [
    "thumbnailGeneration",
    "metadataExtraction",
    "videoConversion",
    "faceDetection",
    "facialRecognition",
    "smartSearch",
    "duplicateDetection",
    "backgroundTask",
    "storageTemplateMigration",
    "migration",
    "search",
    "sidecar",
    "library",
    "notifications",
    "backupDatabase",
    "ocr",
    "workflow",
    "integrityCheck",
    "editor",
]


def from_legacy(name, legacy):
    return {"name": name, "isPaused": legacy["queueStatus"]["isPaused"], "statistics": legacy["jobCounts"]}


def read_queue(client, name):
    """Return (api, queue) where api is "queues" or "jobs"."""
    try:
        return "queues", client.get("/queues/%s" % segment(name))
    except ImmichAPIError as exc:
        if exc.status != 404:
            raise
    queues = client.get("/jobs")
    if name not in queues:
        raise ImmichAPIError("The Immich server has no queue named %s (GET /api/jobs)" % name, status=404)
    return "jobs", from_legacy(name, queues[name])


def run(module, client):
    name, command = module.params["name"], module.params["command"]
    client.wait_for_ping()
    api, queue = read_queue(client, name)
    result = {"changed": False, "api": api, "queue": queue}
    if command == "inspect":
        return result
    if command == "start":
        result["changed"] = True
        if not module.check_mode:
            body = {"command": "start", "force": module.params["force"]}
            result["queue"] = from_legacy(name, client.put("/jobs/%s" % segment(name), body))
        return result
    paused = command == "pause"
    if queue["isPaused"] == paused:
        return result
    result["changed"] = True
    result["diff"] = {"before": {"isPaused": queue["isPaused"]}, "after": {"isPaused": paused}}
    if module.check_mode:
        return result
    if api == "queues":
        result["queue"] = client.put("/queues/%s" % segment(name), {"isPaused": paused})
    else:
        result["queue"] = from_legacy(name, client.put("/jobs/%s" % segment(name), {"command": command}))
    return result


def main():
    argument_spec = immich_argument_spec(
        api_key={"type": "str", "required": True, "no_log": True},
        name={"type": "str", "required": True, "choices": QUEUE_NAMES},
        command={"type": "str", "default": "inspect", "choices": ["inspect", "pause", "resume", "start"]},
        force={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = client_from_module(module)
    try:
        result = run(module, client)
    except ImmichAPIError as exc:
        module.fail_json(**exc.to_result())
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
