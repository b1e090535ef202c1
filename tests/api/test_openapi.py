"""The served OpenAPI description matches what the server does: schemathesis generates requests for
every operation against a real gateway process and checks for 5xx answers and responses (status,
content type, body) that the description does not allow."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import AUTH, GatewayProcess, make_settings
from tests.servers import RedisService, free_port


@pytest.fixture(scope="module")
def gateway_url(redis_service: RedisService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("openapi")
    port = free_port()
    data = make_settings(tmp, redis_service, "filesystem", None)
    data["server"] = {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"}
    config = tmp / "gateway.yaml"
    config.write_text(yaml.safe_dump(data))
    gateway = GatewayProcess(config, port, tmp / "gateway.log").start()
    # a finished upload, so asset operations have something real to find
    request = urllib.request.Request(gateway.url + "/video/v1/uploads", method="POST",
                                     data=json.dumps({"cors_origin": "*"}).encode(),
                                     headers={**AUTH, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        url = json.loads(resp.read())["data"]["url"]
    urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="PUT"), timeout=10).close()
    yield gateway.url
    gateway.stop()


def test_api_conforms_to_its_description(gateway_url: str, tmp_path: Path) -> None:
    """schemathesis (its CLI, as users would run it) finds no 5xx and no response outside the schema."""
    run = subprocess.run(
        [str(Path(sys.executable).with_name("schemathesis")), "run", gateway_url + "/openapi.json",
         "--header", f"Authorization: {AUTH['Authorization']}", "--checks", "all",
         "--max-examples", "30", "--seed", "1", "--report-dir", str(tmp_path), "--no-color"],
        capture_output=True, text=True, timeout=600)
    (tmp_path / "schemathesis.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def test_openapi_is_served_and_lists_every_operation(gateway_url: str) -> None:
    with urllib.request.urlopen(gateway_url + "/openapi.json", timeout=10) as resp:
        spec = json.loads(resp.read())
    assert spec["openapi"].startswith("3.")
    operations = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"create-direct-upload", "list-direct-uploads", "get-direct-upload", "cancel-direct-upload",
            "list-assets", "get-asset", "delete-asset", "update-asset-master-access",
            "livepeer-request-upload"} <= operations
