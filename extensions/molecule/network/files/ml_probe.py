#!/usr/bin/env python3
"""ml_probe URL COUNT CONCURRENCY: POSTs COUNT requests to URL/predict and prints which worker
answered each, as JSON {"counts": {worker: n}, "errors": n}."""

import json
import sys
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor


def one(url):
    req = urllib.request.Request(url + "/predict", data=b"{}", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp).get("worker", "?")
    except Exception:
        return None


def main():
    url, count, conc = sys.argv[1].rstrip("/"), int(sys.argv[2]), int(sys.argv[3])
    with ThreadPoolExecutor(conc) as pool:
        results = list(pool.map(one, [url] * count))
    counts = Counter(r for r in results if r)
    print(json.dumps({"counts": dict(counts), "errors": results.count(None)}))


if __name__ == "__main__":
    main()
