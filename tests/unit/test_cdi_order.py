"""GPU containers start after the unit that writes the CDI spec: the NVIDIA toolkit's nvidia-cdi-refresh.service
(toolkit 1.18+, writes /var/run/cdi at boot) or the collection's own; the spec is never generated twice."""

from rolerender import RoleVars, task

CUDA = {
    "ml_backend": "cuda",
    "ml_image_suffix": "-cuda",
    "cdi_devices": ["nvidia.com/gpu=0"],
    "transcode_accel": "nvenc",
}


def unit_section(text):
    return text.split("[Container]")[0].splitlines()


def test_ml_container_starts_after_the_toolkit_cdi_unit():
    extra = {"gpu_recommendation": CUDA, "gpu_cdi_unit": "nvidia-cdi-refresh.service", "__immich_ml_gids": []}
    extra["mesh_address"] = "192.168.1.30"
    lines = unit_section(RoleVars("immich_ml", extra=extra).render("immich-ml.container.j2"))
    assert "After=nvidia-cdi-refresh.service" in lines
    assert "Wants=nvidia-cdi-refresh.service" in lines


def test_cpu_ml_container_is_not_tied_to_cdi():
    extra = {"gpu_cdi_unit": "nvidia-cdi-refresh.service", "__immich_ml_gids": [], "mesh_address": "192.168.1.30"}
    text = RoleVars("immich_ml", extra=extra).render("immich-ml.container.j2")
    assert "nvidia-cdi-refresh" not in text


def test_nvenc_server_starts_after_the_cdi_unit():
    extra = {
        "gpu_recommendation": CUDA,
        "gpu_cdi_unit": "immich-nvidia-cdi-refresh.service",
        "mesh_address": "192.168.1.10",
    }
    lines = unit_section(RoleVars("immich_server", extra=extra).render("immich-server.container.j2"))
    assert "After=immich-nvidia-cdi-refresh.service" in lines


def gpu_vars(found):
    gpus = [{"vendor": "nvidia", "driver_version": "550.54.14"}]
    extra = {"immich_gpu": {"gpus": gpus, "recommendation": CUDA}, "__gpu_toolkit_cdi_found": found}
    return RoleVars("gpu", extra=extra)


def test_gpu_role_uses_the_toolkit_unit_and_does_not_generate_twice():
    role = gpu_vars(True)
    assert role.value("__gpu_cdi_unit | trim") == "nvidia-cdi-refresh.service"
    assert role.value("__gpu_own_cdi") is False
    generate = task("roles/gpu/tasks/configure.yml", "Generate the NVIDIA CDI spec")
    assert "__gpu_own_cdi | bool" in generate["when"]
    remove = task(
        "roles/gpu/tasks/configure.yml",
        "Remove the collection's CDI unit and spec where the toolkit writes its own (no spec twice)",
    )
    assert "{{ gpu_cdi_spec }}" in remove["loop"]


def test_gpu_role_uses_its_own_unit_with_an_older_toolkit():
    role = gpu_vars(False)
    assert role.value("__gpu_cdi_unit | trim") == "immich-nvidia-cdi-refresh.service"
    assert role.value("__gpu_own_cdi") is True
