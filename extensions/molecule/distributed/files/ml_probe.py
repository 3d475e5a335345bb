"""ml_probe: POSTs /predict requests (multipart, as the Immich server sends them) and reports which
ML instance answered (the fake ML image's X-Fake-ML-Instance header). Python stdlib only.

ml_probe.py spread URL COUNT CONCURRENCY
    COUNT requests to URL/predict, CONCURRENCY at a time -> {"counts": {instance: n}, "errors": n}
ml_probe.py failover URL [URL ...]
    one request, trying the URLs in order like the server walks machineLearning.urls
    -> {"url": the URL that answered or null, "instance": ..., "tried": [[url, error], ...]}
"""

import json
import sys
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

ENTRIES = json.dumps({"clip": {"textual": {"modelName": "ViT-B-32__openai"}}})


def predict(url, timeout=10):
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
        return resp.headers.get("X-Fake-ML-Instance", "?")


def spread(url, count, conc):
    def one(_index):
        try:
            return predict(url)
        except Exception:
            return None

    with ThreadPoolExecutor(conc) as pool:
        results = list(pool.map(one, range(count)))
    counts = Counter(r for r in results if r)
    return {"counts": dict(sorted(counts.items())), "errors": results.count(None)}


def failover(urls):
    tried = []
    for url in urls:
        try:
            return {"url": url, "instance": predict(url, timeout=5), "tried": tried}
        except Exception as e:
            tried.append([url, str(e)])
    return {"url": None, "instance": None, "tried": tried}


def main(argv):
    if argv[:1] == ["spread"] and len(argv) == 4:
        out = spread(argv[1], int(argv[2]), int(argv[3]))
    elif argv[:1] == ["failover"] and len(argv) > 1:
        out = failover(argv[1:])
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
