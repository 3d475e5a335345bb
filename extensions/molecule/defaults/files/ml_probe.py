"""ml_probe: POSTs /predict requests (multipart, as the Immich server sends them) and tells which
ML worker served them, from HAProxy's own statistics (the balancer's stats socket): what a user
sees with `echo "show stat" | socat stdio /run/haproxy/admin.sock`. Python stdlib only.

ml_probe.py spread URL COUNT CONCURRENCY
    COUNT requests to URL/predict, CONCURRENCY at a time
    -> {"counts": {server: requests it served during the run}, "errors": n}
ml_probe.py stats
    -> {server: {"status": "UP"|"DOWN"|"DRAIN"|..., "served": total 2xx responses, "weight": w}}
ml_probe.py servers
    -> {"backend/server": {"status": ..., "sessions": total sessions, "2xx": total 2xx responses}}, every backend
ml_probe.py failover URL [URL ...]
    one request, trying the URLs in order like the server walks machineLearning.urls
    -> {"url": the URL that answered or null, "tried": [[url, error], ...]}
"""

import csv
import json
import socket
import sys
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

ENTRIES = json.dumps({"clip": {"textual": {"modelName": "ViT-B-32__openai"}}})
SOCKET = "/run/haproxy/admin.sock"
BACKEND = "immich_ml_workers"


def server_rows():
    """HAProxy's `show stat` rows of the servers (every backend, no FRONTEND/BACKEND summary rows)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(SOCKET)
        sock.sendall(b"show stat\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    rows = csv.DictReader(data.decode().lstrip("# ").splitlines())
    return [r for r in rows if r["svname"] not in ("FRONTEND", "BACKEND")]


def stats():
    return {
        r["svname"]: {"status": r["status"], "served": int(r["hrsp_2xx"] or 0), "weight": int(r["weight"] or 0)}
        for r in server_rows()
        if r["pxname"] == BACKEND
    }


def servers():
    return {
        r["pxname"] + "/" + r["svname"]: {
            "status": r["status"],
            "sessions": int(r["stot"] or 0),
            "2xx": int(r["hrsp_2xx"] or 0),
        }
        for r in server_rows()
    }


def predict(url, timeout=30):
    boundary = uuid.uuid4().hex
    body = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in (("entries", ENTRIES), ("text", "a photo of a cat"))
    )
    body += f"--{boundary}--\r\n"
    req = urllib.request.Request(
        url.rstrip("/") + "/predict",
        data=body.encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        json.load(resp)


def spread(url, count, conc):
    def one(_index):
        try:
            predict(url)
            return True
        except Exception:
            return False

    before = stats()
    with ThreadPoolExecutor(conc) as pool:
        results = list(pool.map(one, range(count)))
    after = stats()
    counts = {name: s["served"] - before.get(name, {}).get("served", 0) for name, s in after.items()}
    return {"counts": {k: v for k, v in sorted(counts.items()) if v}, "errors": results.count(False)}


def failover(urls):
    tried = []
    for url in urls:
        try:
            predict(url, timeout=10)
            return {"url": url, "tried": tried}
        except Exception as e:
            tried.append([url, str(e)])
    return {"url": None, "tried": tried}


def main(argv):
    if argv[:1] == ["spread"] and len(argv) == 4:
        out = spread(argv[1], int(argv[2]), int(argv[3]))
    elif argv == ["stats"]:
        out = stats()
    elif argv == ["servers"]:
        out = servers()
    elif argv[:1] == ["failover"] and len(argv) > 1:
        out = failover(argv[1:])
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
