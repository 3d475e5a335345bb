# Copyright: homelab.immich contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # Connection options of every module that talks to the Immich server API
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the Immich server, without C(/api), for example C(http://127.0.0.1:2283).
      - A trailing C(/api) is accepted and ignored.
    type: str
    required: true
  api_key:
    description:
      - Immich API key, sent as the C(x-api-key) header.
      - The key needs the permissions of the endpoints the module calls (see each module's notes).
    type: str
  validate_certs:
    description:
      - Verify the server's TLS certificate when O(url) is C(https://).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the server to answer C(GET /api/server/ping) before the first call,
        and the budget for retrying a request that failed with a connection error (refused, reset,
        DNS, socket timeout). HTTP error answers are never retried.
    type: int
    default: 30
notes:
  - Talks to the Immich server API (v3.1 or later) with Ansible's own HTTP client; no Python
    library is needed on the target.
  - "Errors name the HTTP status, the server's message and, for validation errors, each failing
    path, for example C(HTTP 400 Bad Request: Validation failed: machineLearning.urls.0 must be a URL address)."
"""
