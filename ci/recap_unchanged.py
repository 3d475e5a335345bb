#!/usr/bin/env python3
"""Exit non-zero unless every host in an ansible-playbook PLAY RECAP reports changed=0 and failed=0."""

import re
import sys

RECAP = re.compile(r"(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def main(path: str) -> int:
    with open(path, encoding="utf-8", errors="replace") as f:
        text = re.sub(r"\x1b\[[0-9;]*m", "", f.read())
    hosts = [m.groups() for m in map(RECAP.search, text.splitlines()) if m]
    if not hosts:
        print(f"{path}: no PLAY RECAP found")
        return 1
    bad = [h for h in hosts if int(h[2]) or int(h[3]) or int(h[4])]
    for host, _ok, changed, unreachable, failed in bad:
        print(f"check mode: {host} changed={changed} unreachable={unreachable} failed={failed}")
    if not bad:
        print(f"check mode: {len(hosts)} host(s), changed=0 everywhere")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
