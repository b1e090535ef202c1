"""A misspelt key is a start-up error naming its full dotted path, in the file or in a
``UPGW_<SECTION>__<KEY>`` variable; ``UPGW_`` variables that are not settings pass unnoticed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import UnknownSetting, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("UPGW_"):
            monkeypatch.delenv(name)


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_an_unknown_top_level_key_in_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnknownSetting, match=r"^unknown setting stroage \(in .*config\.yaml\)$"):
        load_settings(config(tmp_path, "stroage:\n  backend: s3\n"))


def test_an_unknown_nested_key_in_the_file_is_refused_by_its_dotted_path(tmp_path: Path) -> None:
    path = config(tmp_path, "storage:\n  backend: s3\n  s3:\n    endpont: http://minio:9000\n")
    with pytest.raises(UnknownSetting, match=r"unknown setting storage\.s3\.endpont"):
        load_settings(path)
    with pytest.raises(UnknownSetting, match=r"unknown setting redis\.clustr"):
        load_settings(config(tmp_path, "redis:\n  clustr: true\n"))
    with pytest.raises(UnknownSetting, match=r"unknown setting auth\.tokens\[0\]\.scopez"):
        load_settings(config(tmp_path, "auth: {tokens: [{id: a, secret: b, scopez: [uploads]}]}\n"))


def test_every_unknown_key_is_named_at_once(tmp_path: Path) -> None:
    path = config(tmp_path, "redis: {clustr: true}\nserver: {prot: 1}\njobs: {concurency: 2}\n")
    with pytest.raises(UnknownSetting) as info:
        load_settings(path)
    for name in ("redis.clustr", "server.prot", "jobs.concurency"):
        assert f"unknown setting {name} (in {path})" in str(info.value)


def test_an_unknown_key_under_a_known_section_in_the_environment_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPGW_REDIS__CLUSTR", "1")
    with pytest.raises(UnknownSetting, match=r"unknown setting redis\.clustr \(from UPGW_REDIS__CLUSTR\)"):
        load_settings(None)
    monkeypatch.delenv("UPGW_REDIS__CLUSTR")
    monkeypatch.setenv("UPGW_STORAGE__S3__ENDPONT", "http://minio:9000")
    with pytest.raises(UnknownSetting, match=r"unknown setting storage\.s3\.endpont"):
        load_settings(config(tmp_path, "storage: {backend: s3}\n"))


def test_upgw_variables_that_are_not_settings_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The uploader's UPGW_URL and UPGW_TOKEN, scripts/run.sh's UPGW_REDIS_PORT and UPGW_VAR_DIR, and
    anything without the prefix."""
    for name, value in {"UPGW_URL": "http://127.0.0.1:8080", "UPGW_TOKEN": "secret", "UPGW_REDIS_PORT": "6390",
                        "UPGW_VAR_DIR": "/tmp/var", "REDIS__CLUSTR": "1", "STORAGE__S3__ENDPONT": "x"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("UPGW_SERVER__PORT", "9100")
    settings = load_settings(None)
    assert settings.server.port == 9100 and settings.redis.url == "redis://127.0.0.1:6379/0"


def test_the_shipped_config_has_no_unknown_keys() -> None:
    load_settings(ROOT / "config.yaml")


@pytest.mark.parametrize("command", ["gateway", "workers"])
def test_python_m_refuses_a_misspelt_key_without_a_traceback(tmp_path: Path, command: str) -> None:
    path = config(tmp_path, "server: {port: 0}\nstorage:\n  s3:\n    endpont: http://minio:9000\n")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("UPGW_")}
    done = subprocess.run([sys.executable, "-m", command, "--config", str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "unknown setting storage.s3.endpont" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
