"""Run fake_immich like the immich-server container: ``python3 -m fake_immich``.

Reads the real server's environment (IMMICH_PORT, DB_*, REDIS_*, IMMICH_WORKERS_EXCLUDE,
IMMICH_CONFIG_FILE), checks at startup that PostgreSQL and Valkey/Redis are really reachable
(a login with psycopg when installed, else a TCP/unix-socket connect; Redis AUTH + PING) and
exits non-zero with a clear log line when not. Fake-only knobs: see README.md.
"""

import datetime
import os
import signal
import socket
import sys
import threading
import time
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import urlopen

from .server import make_server

PID = os.getpid()


def log(message, context="Api"):
    stamp = datetime.datetime.now().strftime("%m/%d/%Y, %I:%M:%S %p")
    level, _sep, text = message.partition(" ")
    if level not in ("LOG", "WARN", "ERROR", "DEBUG", "VERBOSE"):
        level, text = "LOG", message
    if text.startswith("[") and "] " in text:
        context, text = text[1:].split("] ", 1)
    if level == "DEBUG" and not os.environ.get("FAKE_IMMICH_DEBUG"):
        return
    sys.stdout.write(f"[Nest] {PID}  - {stamp} {level:>7} [{context}] {text}\n")
    sys.stdout.flush()


def env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def db_settings():
    if env("DB_URL"):
        url = urlsplit(env("DB_URL"))
        return {
            "host": url.hostname or "localhost",
            "port": url.port or 5432,
            "user": unquote(url.username or "postgres"),
            "password": unquote(url.password or ""),
            "dbname": url.path.lstrip("/") or "immich",
            "url": env("DB_URL"),
        }
    return {
        "host": env("DB_HOSTNAME", "database"),
        "port": int(env("DB_PORT", "5432")),
        "user": env("DB_USERNAME", "postgres"),
        "password": env("DB_PASSWORD", "postgres"),
        "dbname": env("DB_DATABASE_NAME", "immich"),
        "url": None,
    }


def check_database():
    cfg = db_settings()
    where = "{}:{}/{}".format(cfg["host"], cfg["port"], cfg["dbname"])
    try:
        import psycopg
    except ImportError:
        psycopg = None
    if psycopg is not None:
        kwargs = {k: cfg[k] for k in ("host", "port", "user", "password", "dbname")}
        with (
            psycopg.connect(cfg["url"], connect_timeout=5)
            if cfg["url"]
            else psycopg.connect(connect_timeout=5, **kwargs)
        ) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        return "PostgreSQL {} at {} (login as {})".format(version, where, cfg["user"])
    if cfg["host"].startswith("/"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(os.path.join(cfg["host"], f".s.PGSQL.{cfg['port']}"))
        sock.close()
    else:
        socket.create_connection((cfg["host"], cfg["port"]), timeout=5).close()
    return f"PostgreSQL port at {where} (TCP connect only, psycopg not installed)"


def _resp(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed by Redis")
        data += chunk
    return data.decode("utf-8", "replace").strip()


def _command(*args):
    out = b"*%d\r\n" % len(args)
    for arg in args:
        raw = arg.encode("utf-8")
        out += b"$%d\r\n%s\r\n" % (len(raw), raw)
    return out


def check_redis():
    if env("REDIS_SOCKET"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(env("REDIS_SOCKET"))
        where = env("REDIS_SOCKET")
    else:
        host, port = env("REDIS_HOSTNAME", "redis"), int(env("REDIS_PORT", "6379"))
        sock = socket.create_connection((host, port), timeout=5)
        where = f"{host}:{port}"
    try:
        if env("REDIS_PASSWORD"):
            args = ["AUTH", env("REDIS_USERNAME"), env("REDIS_PASSWORD")] if env("REDIS_USERNAME") else None
            sock.sendall(_command(*(args or ["AUTH", env("REDIS_PASSWORD")])))
            answer = _resp(sock)
            if answer != "+OK":
                raise ConnectionError(f"AUTH refused: {answer}")
        if env("REDIS_DBINDEX"):
            sock.sendall(_command("SELECT", env("REDIS_DBINDEX")))
            _resp(sock)
        sock.sendall(_command("PING"))
        answer = _resp(sock)
        if answer != "+PONG":
            raise ConnectionError(f"PING answered {answer}")
    finally:
        sock.close()
    return f"Redis/Valkey at {where} (AUTH+PING)"


def check_dependencies():
    deadline = time.monotonic() + float(env("FAKE_IMMICH_STARTUP_TIMEOUT", "20"))
    for name, check in (("database", check_database), ("redis", check_redis)):
        while True:
            try:
                log(f"{name} reachable: {check()}", "Fake:Bootstrap")
                break
            except Exception as exc:
                if time.monotonic() > deadline:
                    log(f"ERROR Cannot connect to the {name}: {exc}", "Fake:Bootstrap")
                    sys.exit(1)
                time.sleep(1)


def ml_checks(fake):
    """Ping every machineLearning.urls entry like the real server's availability checks.

    As the real server: ``new URL("ping", url)`` (a path in the URL is replaced, not extended),
    a 2xx answer within ``availabilityChecks.timeout`` is healthy, no checks when ML or the
    checks are disabled, and the health is only ever reported in the log.
    """
    while True:
        with fake.lock:
            ml = fake.config["machineLearning"]
            checks = ml["availabilityChecks"]
            urls = list(ml["urls"]) if ml["enabled"] and checks["enabled"] else []
            interval = checks["interval"] / 1000.0
            timeout = checks["timeout"] / 1000.0
        interval = float(env("FAKE_IMMICH_ML_INTERVAL", interval))
        for url in urls:
            try:
                with urlopen(urljoin(url, "ping"), timeout=max(timeout, 0.5)) as answer:
                    healthy = 200 <= answer.status < 300
            except Exception:
                healthy = False
            with fake.lock:
                before = fake.ml_status.get(url)
                fake.ml_status[url] = healthy
            log("DEBUG ML check {}: {}".format(url, "healthy" if healthy else "unhealthy"), "Fake:MachineLearning")
            if healthy != before:
                state = "healthy" if healthy else "unhealthy"
                log(f"Machine learning server became {state} ({url}).", "Microservices:MachineLearningRepository")
        time.sleep(max(interval, 0.5))


def main():
    # PID 1 in a container ignores SIGTERM unless a handler is installed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log("Initializing Immich v3.1.0 (fake_immich test double)", "Fake:Bootstrap")
    if env("FAKE_IMMICH_SKIP_DEPENDENCY_CHECKS") != "1":
        check_dependencies()
    excluded = [w.strip() for w in env("IMMICH_WORKERS_EXCLUDE", "").split(",") if w.strip()]
    included = [w.strip() for w in env("IMMICH_WORKERS_INCLUDE", "api,microservices").split(",") if w.strip()]
    workers = [w for w in included if w not in excluded]
    state_file = env("FAKE_IMMICH_STATE_FILE")
    if state_file and not os.access(os.path.dirname(state_file) or ".", os.W_OK):
        log(f"WARN state file directory not writable, state is in memory only: {state_file}", "Fake:Bootstrap")
        state_file = None
    server = make_server(
        host=env("IMMICH_HOST", "0.0.0.0"),
        port=int(env("IMMICH_PORT", "2283")),
        config_file=env("IMMICH_CONFIG_FILE"),
        queues_api=env("FAKE_IMMICH_QUEUES_API", "1") == "1",
        state_file=state_file,
        log=log,
    )
    if env("FAKE_IMMICH_ML_CHECKS", "1") == "1" and "microservices" in workers:
        threading.Thread(target=ml_checks, args=(server.fake,), daemon=True).start()
    if "api" not in workers:
        server.server_close()
        log(
            "Immich Microservices is running [v3.1.0] [production] (worker: api excluded, no HTTP API)", "Microservices"
        )
        while True:
            time.sleep(3600)
    log(f"Immich Server is listening on http://[::1]:{server.server_address[1]} [v3.1.0] [production]")
    server.serve_forever()


if __name__ == "__main__":
    main()
