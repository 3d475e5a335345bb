"""The immich-machine-learning quadlet rendered from the role's defaults (roles/immich_ml)."""

from rolerender import RoleVars


def environment(text):
    return dict(line.split("=", 1)[1].split("=", 1) for line in text.splitlines() if line.startswith("Environment="))


def render(**extra):
    base = {"mesh_address": "192.168.1.10", "__immich_ml_gids": []}
    base.update(extra)
    return RoleVars("immich_ml", extra=base).render("immich-ml.container.j2")


def test_ml_listens_on_ipv4_through_immich_host_and_port():
    env = environment(render())
    assert env["IMMICH_HOST"] == "0.0.0.0"
    assert env["IMMICH_PORT"] == "3003"
    assert "MACHINE_LEARNING_HOST" not in env
    assert "MACHINE_LEARNING_PORT" not in env


def test_ml_listen_host_can_be_configured():
    assert environment(render(immich_ml_listen_host="[::]"))["IMMICH_HOST"] == "[::]"
