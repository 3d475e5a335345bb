"""haproxy_stat: HAProxy's own statistics of the ML balancer's servers, as a user reads them with
`echo "show stat" | socat stdio /run/haproxy/admin.sock`. Python stdlib only.

haproxy_stat.py -> {"backend/server": {"status": ..., "sessions": stot, "2xx": hrsp_2xx}}
"""

import csv
import json
import socket

SOCKET = "/run/haproxy/admin.sock"


def main():
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(SOCKET)
        sock.sendall(b"show stat\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    rows = csv.DictReader(data.decode().lstrip("# ").splitlines())
    print(
        json.dumps(
            {
                r["pxname"] + "/" + r["svname"]: {
                    "status": r["status"],
                    "sessions": int(r["stot"] or 0),
                    "2xx": int(r["hrsp_2xx"] or 0),
                }
                for r in rows
                if r["svname"] not in ("FRONTEND", "BACKEND")
            }
        )
    )


if __name__ == "__main__":
    main()
