"""docker/compose.yaml as Compose v2 itself reads it (``docker compose config``, no engine needed): the
services, replicas, health checks and volumes production relies on, and the same environment the static
checks in test_docker_files.py assume."""

from __future__ import annotations

from pathlib import Path

from tests.deploy.compose_cli import compose_config, run_config
from tests.deploy.test_docker_files import DOCKER, compose, image, substitute

SERVICES = {"redis", "minio", "gateway", "worker", "proxy"}


def test_compose_v2_accepts_the_file_with_the_example_env() -> None:
    config = compose_config()
    services = config["services"]
    assert set(services) == SERVICES
    assert services["gateway"]["deploy"]["replicas"] == 3 and services["worker"]["deploy"]["replicas"] == 2
    for name in ("gateway", "worker"):   # built from this repository, run with their image's CMD
        assert services[name]["build"]["context"] == str(DOCKER.parent), name
        assert services[name]["command"] is None and services[name]["entrypoint"] is None, name
        assert {dep: cond["condition"] for dep, cond in services[name]["depends_on"].items()} == {
            "redis": "service_healthy", "minio": "service_healthy"}, name
    assert services["proxy"]["depends_on"]["gateway"]["condition"] == "service_healthy"
    assert services["gateway"]["stop_grace_period"] == "15s" and services["worker"]["stop_grace_period"] == "30s"


def test_health_checks_are_the_ones_the_services_answer() -> None:
    services = compose_config()["services"]
    tests = {name: (service.get("healthcheck") or {}).get("test") for name, service in services.items()}
    assert tests == {
        "redis": ["CMD", "redis-cli", "ping"],
        "minio": ["CMD", "mc", "ready", "local"],
        "gateway": ["CMD", *image("Dockerfile").healthcheck],   # the image's own, /readyz on 8080
        "proxy": ["CMD", "nginx", "-t"],
        "worker": None,                                        # Dockerfile.worker's HEALTHCHECK applies
    }
    assert "/readyz" in tests["gateway"][-1] and "redis" in image("Dockerfile.worker").healthcheck[-1]
    for name in ("redis", "minio", "gateway"):
        check = services[name]["healthcheck"]
        assert check["retries"] >= 3 and check["interval"] and check["timeout"], name


def test_redis_and_minio_keep_their_data_on_named_volumes() -> None:
    config = compose_config()
    services = config["services"]
    assert set(config["volumes"]) == {"redis-data", "minio-data"}
    for name in ("redis", "minio"):
        assert services[name]["volumes"] == [
            {"type": "volume", "source": f"{name}-data", "target": "/data", "volume": {}}], name
    # Redis writes an append-only file, fsynced every second, into its working directory /data (the
    # redis image's WORKDIR); test_compose_services.py runs this command line and sees the file appear.
    assert services["redis"]["command"] == ["redis-server", "--appendonly", "yes", "--appendfsync", "everysec"]
    # MinIO cannot run on these machines (SeaweedFS stands in for it when test_compose_services.py runs
    # the gateway and worker): what is checked of it is that it serves /data, the minio-data volume.
    assert services["minio"]["command"][:2] == ["server", "/data"]
    assert [p["target"] for p in services["minio"]["ports"]] == [9000, 9001]
    proxy_volume = services["proxy"]["volumes"][0]
    assert proxy_volume["type"] == "bind" and proxy_volume["read_only"] is True
    assert proxy_volume["source"] == str(DOCKER / "nginx.conf") and proxy_volume["target"] == "/etc/nginx/nginx.conf"


def test_compose_interpolates_as_the_static_checks_assume() -> None:
    config = compose_config()
    expected = {key: substitute(str(value)) for key, value in compose()["x-upgw-env"].items()}
    assert config["x-upgw-env"] == expected
    for name in ("gateway", "worker"):
        assert config["services"][name]["environment"] == expected, name
    # a variable set in the shell wins over docker/.env, as the comments in the compose file promise
    shell = compose_config(PUBLIC_URL="https://uploads.example.com")
    assert shell["x-upgw-env"]["UPGW_SERVER__PUBLIC_URL"] == "https://uploads.example.com"


def test_compose_refuses_to_run_without_the_secrets(tmp_path: Path) -> None:
    empty = tmp_path / ".env"
    empty.write_text("")
    done = run_config(env_file=empty)
    assert done.returncode != 0
    assert "copy docker/.env.example to docker/.env and set it" in done.stderr
