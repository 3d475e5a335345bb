"""upgrade.yml: job workers must not run the old image while the new server migrates the database."""

from rolerender import tasks, walk

STOP = "Stop the job workers before the server migrates the database"


def names(items):
    return [t.get("name") for t in walk(items) if isinstance(t, dict)]


def test_job_workers_stop_before_the_server_switches():
    server = tasks("roles/upgrade/tasks/server.yml")
    order = names(server)
    assert STOP in order
    assert order.index(STOP) < order.index("Switch the images")
    stop = next(t for t in walk(server) if t.get("name") == STOP)
    assert stop["ansible.builtin.systemd_service"] == {"name": "immich-server.service", "state": "stopped"}
    assert stop["delegate_to"] == "{{ item }}"
    assert "job_workers" in stop["loop"]


def test_rollback_starts_the_job_workers_on_the_old_image():
    block = next(t for t in tasks("roles/upgrade/tasks/server.yml") if "rescue" in t)
    rescue = names(block["rescue"])
    start = "Start the job workers again on their previous image"
    assert (
        rescue.index("Roll the images back")
        < rescue.index(start)
        < rescue.index("Stop with what to do about the database")
    )


def test_job_worker_starts_on_the_new_image_before_its_gate():
    order = names(tasks("roles/upgrade/tasks/worker.yml"))
    start = "Start the job worker's server on the new image (stopped while the server migrated)"
    assert (
        order.index("Switch the images") < order.index(start) < order.index("Check that the job worker's server runs")
    )
