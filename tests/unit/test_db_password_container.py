"""Container-mode PostgreSQL asks scram-sha-256 on the socket (roles/postgres/templates/pg_hba.conf.j2):
every client the collection runs with ``podman exec`` (backup timer, restore.yml, upgrade.yml through the
backup script, and verify.yml) must hand psql/pg_dump the password, and never on a command line."""

import os
import stat
import subprocess
import textwrap

from rolerender import RoleVars, task, tasks

PASSWORD = "s3cretPassw0rd"

# A stand-in for `podman exec` that keeps the contract that matters here: the process in the container
# sees the environment given by --env-file / -e NAME (taken from podman's own environment), and psql
# without PGPASSWORD fails the way PostgreSQL does when pg_hba asks for scram-sha-256.
FAKE_PODMAN = textwrap.dedent(
    """\
    #!/usr/bin/env python3
    import os, sys
    args = sys.argv[1:]
    assert args[0] == "exec", args
    args = args[1:]
    env = {}
    while args[0].startswith("-"):
        opt = args.pop(0)
        if opt == "--env-file":
            for line in open(args.pop(0)):
                if "=" in line:
                    k, v = line.rstrip("\\n").split("=", 1)
                    env[k] = v
        elif opt in ("-e", "--env"):
            k = args.pop(0)
            if "=" in k:
                env.update([k.split("=", 1)])
            elif k in os.environ:
                env[k] = os.environ[k]
        elif opt in ("-i", "--interactive"):
            pass
        else:
            sys.exit("fake podman: unknown option " + opt)
    container, cmd = args[0], args[1:]
    with open(os.environ["FAKE_PODMAN_LOG"], "a") as log:
        log.write(" ".join(sys.argv) + "\\n")
    if env.get("PGPASSWORD") != os.environ["FAKE_PODMAN_PASSWORD"]:
        sys.exit('%s: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: '
                 "fe_sendauth: no password supplied" % cmd[0])
    sys.stdout.write("ok %s\\n" % cmd[0])
    """
)


def _script(tmp_path):
    env_file = tmp_path / "backup-db.env"
    role = RoleVars(
        "backup",
        extra={
            "backup_db_mode": "container",
            "immich_db_password": PASSWORD,
            "backup_dir": str(tmp_path / "dumps"),
            "__backup_db_env_file": str(env_file),
        },
    )
    return role, env_file


def _run(tmp_path, script, *args):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    podman = bindir / "podman"
    podman.write_text(FAKE_PODMAN)
    podman.chmod(0o755)
    env = dict(os.environ)
    env.update(
        PATH=f"{bindir}:{env['PATH']}",
        FAKE_PODMAN_LOG=str(tmp_path / "podman.log"),
        FAKE_PODMAN_PASSWORD=PASSWORD,
    )
    env.pop("PGPASSWORD", None)
    return subprocess.run(["bash", str(script), *args], env=env, capture_output=True, text=True, check=False)


def test_backup_script_gives_psql_the_password_in_container_mode(tmp_path):
    role, env_file = _script(tmp_path)
    # what the role's task writes (content as in roles/backup/tasks/configure.yml)
    write = task("roles/backup/tasks/configure.yml", "Write the password file (root only)")
    env_file.write_text(role.templar.template(write["ansible.builtin.copy"]["content"]))
    script = tmp_path / "immich-backup"
    script.write_text(role.render("immich-backup.sh.j2"))
    (tmp_path / "dumps").mkdir()

    result = _run(tmp_path, script, "pg", "psql", "-At", "-d", "immich", "-c", "SELECT 1")
    assert result.returncode == 0, result.stderr
    assert "ok psql" in result.stdout
    result = _run(tmp_path, script, "dump")
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "dumps").glob("immich-immich-*.dump"))
    # never on a command line, never in the script
    assert PASSWORD not in (tmp_path / "podman.log").read_text()
    assert PASSWORD not in script.read_text()


def test_backup_password_file_is_root_only_and_not_logged():
    write = task("roles/backup/tasks/configure.yml", "Write the password file (root only)")
    assert write["no_log"] is True
    assert write["ansible.builtin.copy"]["mode"] == "0600"
    assert write["ansible.builtin.copy"]["owner"] == "root"


def test_verify_psql_gets_the_password_in_container_mode():
    role = RoleVars("verify", extra={"verify_db_mode": "container", "immich_db_password": PASSWORD})
    argv = role.value("__verify_psql")
    assert argv[:4] == ["podman", "exec", "-e", "PGPASSWORD"]
    assert PASSWORD not in argv
    read = task("roles/verify/tasks/server.yml", "Read the database extensions")
    assert role.templar.template(read["environment"]["PGPASSWORD"]) == PASSWORD


def test_verify_playbook_loads_the_generated_secrets():
    plays = tasks("playbooks/verify.yml")
    imports = [p.get("ansible.builtin.import_playbook") for p in plays]
    # the inventory is validated first, then the secrets are loaded, before any verify play
    assert imports[:2] == ["validate.yml", "secrets.yml"]


def test_fake_podman_refuses_without_password(tmp_path):
    """The double itself: without the password file psql fails as PostgreSQL would."""
    script = tmp_path / "s.sh"
    script.write_text("podman exec -i immich-postgres psql -U immich -c 'SELECT 1'\n")
    result = _run(tmp_path, script)
    assert result.returncode != 0
    assert "no password supplied" in result.stderr
    assert stat.S_IMODE(os.stat(tmp_path / "bin" / "podman").st_mode) == 0o755
