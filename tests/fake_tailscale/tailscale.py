"""fake_tailscale: a test double of the `tailscale` CLI for Molecule (pkgs.tailscale.com and the
Tailscale control plane are not reachable in the test network).

Implements the subset the `mesh` role uses, with the output shapes of tailscale 1.8x:
  status --json | ip -4 | up [flags] | down | logout | version |
  serve --bg --https=PORT TARGET | serve status --json | serve reset
Every call is appended as one JSON line to $FAKE_TAILSCALE_LOG (default
/var/log/fake_tailscale.log): the arguments with --authkey/--auth-key values replaced by
"REDACTED", and "authkey_given": true/false. State lives in $FAKE_TAILSCALE_STATE
(default /var/lib/fake_tailscale/state.json). The "tailnet" IPv4 is the content of
/etc/fake_tailscale/ip when present, else the host's source address towards the default
route, so that the fake mesh address is routable inside the test network.
"""

import datetime
import json
import os
import socket
import subprocess
import sys

LOG = os.environ.get("FAKE_TAILSCALE_LOG", "/var/log/fake_tailscale.log")
STATE = os.environ.get("FAKE_TAILSCALE_STATE", "/var/lib/fake_tailscale/state.json")
IP_FILE = "/etc/fake_tailscale/ip"
SECRET_FLAGS = ("--authkey", "--auth-key")
# flags of `tailscale up` this fake knows; anything else is rejected like the real CLI does
UP_FLAGS = {
    "--authkey",
    "--auth-key",
    "--hostname",
    "--advertise-tags",
    "--login-server",
    "--accept-routes",
    "--accept-dns",
    "--ssh",
    "--reset",
    "--timeout",
    "--advertise-exit-node",
    "--advertise-routes",
    "--shields-up",
    "--force-reauth",
    "--operator",
}


def load_state():
    try:
        with open(STATE) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"backend": "NeedsLogin", "prefs": {}, "serve": {}}


def save_state(state):
    os.makedirs(os.path.dirname(STATE), exist_ok=True)
    with open(STATE, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)


def redact(argv):
    out, given, skip = [], False, False
    for arg in argv:
        if skip:
            out.append("REDACTED")
            skip, given = False, True
            continue
        name = arg.split("=", 1)[0]
        if name in SECRET_FLAGS:
            if "=" in arg:
                out.append(name + "=REDACTED")
                given = bool(arg.split("=", 1)[1])
            else:
                out.append(arg)
                skip = True
            continue
        out.append(arg)
    return out, given


def record(argv):
    args, given = redact(argv)
    os.makedirs(os.path.dirname(LOG), exist_ok=True)
    with open(LOG, "a") as f:
        f.write(json.dumps({"args": args, "authkey_given": given}) + "\n")


def tailnet_ip():
    try:
        with open(IP_FILE) as f:
            return f.read().strip()
    except OSError:
        pass
    out = subprocess.run(
        ["ip", "-4", "route", "get", "1.1.1.1"], capture_output=True, text=True, check=False
    ).stdout.split()
    return out[out.index("src") + 1] if "src" in out else "100.64.0.1"


def parse_flags(argv):
    flags = {}
    it = iter(argv)
    for arg in it:
        if not arg.startswith("--"):
            die(f"unexpected argument {arg!r}", 2)
        name, eq, value = arg.partition("=")
        if name not in UP_FLAGS:
            die(f"flag provided but not defined: {name}", 2)
        if not eq:
            boolean = name in ("--reset", "--accept-routes", "--ssh", "--shields-up", "--force-reauth")
            value = "true" if boolean else next(it, "")
        flags[name] = value
    return flags


def die(msg, rc=1):
    sys.stderr.write(msg + "\n")
    sys.exit(rc)


def main(argv):
    record(argv)
    state = load_state()
    if not argv:
        die("usage: tailscale <command> [flags]", 2)
    cmd, rest = argv[0], argv[1:]
    if cmd == "version":
        print("1.84.0-fake")
    elif cmd == "status":
        running = state["backend"] == "Running"
        doc = {
            "Version": "1.84.0-fake",
            "BackendState": state["backend"],
            "TailscaleIPs": [tailnet_ip()] if running else [],
            "Self": {
                "HostName": state["prefs"].get("--hostname", socket.gethostname()),
                "DNSName": "{}.tail-fake.ts.net.".format(state["prefs"].get("--hostname", socket.gethostname())),
                "TailscaleIPs": [tailnet_ip()] if running else [],
                "Online": running,
                "Tags": [t for t in state["prefs"].get("--advertise-tags", "").split(",") if t],
                # untagged nodes: the node key expires 180 days after login (the real default); tagged: no expiry
                **(
                    {"KeyExpiry": state["key_expiry"]}
                    if state.get("key_expiry") and not state["prefs"].get("--advertise-tags")
                    else {}
                ),
            },
            "CurrentTailnet": {"Name": "fake", "MagicDNSSuffix": "tail-fake.ts.net"} if running else None,
        }
        if "--json" in rest:
            print(json.dumps(doc, indent=2))
        else:
            print("{}  {}  fake  linux  -".format(tailnet_ip() if running else "-", doc["Self"]["HostName"]))
    elif cmd == "ip":
        if state["backend"] != "Running":
            die("no current Tailscale IPs; state: {}".format(state["backend"]))
        if "-6" in rest:
            print("fd7a:115c:a1e0::1")
        else:
            print(tailnet_ip())
    elif cmd == "up":
        flags = parse_flags(rest)
        if state["backend"] == "NeedsLogin" and not flags.get("--authkey", flags.get("--auth-key")):
            die("To authenticate, visit: https://login.tailscale.com/a/fake (no auth key given)")
        prefs = {k: v for k, v in flags.items() if k not in (*SECRET_FLAGS, "--reset", "--timeout")}
        if state["prefs"] and "--reset" not in flags and prefs != state["prefs"]:
            die("Error: changing settings via 'tailscale up' requires mentioning all non-default flags (use --reset)")
        if flags.get("--authkey", flags.get("--auth-key")) or not state.get("key_expiry"):
            expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=180)
            state["key_expiry"] = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
        state.update(backend="Running", prefs=prefs)
        save_state(state)
    elif cmd == "down":
        if state["backend"] == "Running":
            state["backend"] = "Stopped"
        save_state(state)
    elif cmd == "logout":
        state.update(backend="NeedsLogin", prefs={}, serve={})
        save_state(state)
    elif cmd == "serve":
        if rest[:1] == ["status"]:
            print(json.dumps(state.get("serve") or {}, indent=2) if "--json" in rest else "")
        elif rest[:1] == ["reset"]:
            state["serve"] = {}
            save_state(state)
        else:
            if state["backend"] != "Running":
                die("serve: tailscale is not running")
            port, target = "443", None
            for arg in rest:
                if arg.startswith("--https="):
                    port = arg.split("=", 1)[1]
                elif arg in ("--bg", "--yes"):
                    continue
                elif arg.startswith("--"):
                    die(f"serve: unsupported flag {arg} in the fake", 2)
                else:
                    target = arg
            if not target:
                die("serve: missing target", 2)
            host = "{}.tail-fake.ts.net".format(state["prefs"].get("--hostname", socket.gethostname()))
            state["serve"] = {
                "TCP": {port: {"HTTPS": True}},
                "Web": {f"{host}:{port}": {"Handlers": {"/": {"Proxy": target}}}},
            }
            save_state(state)
    else:
        die(f"unknown subcommand: {cmd}", 2)


if __name__ == "__main__":
    main(sys.argv[1:])
