"""Secrets from files: a container's secrets folder or systemd's credentials, never logged
in the environment; an environment variable wins; nothing but the secrets is read."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lingolive.config import SECRET_FIELDS, Settings


def write(folder: Path, **values: str) -> Path:
    folder.mkdir(exist_ok=True)
    for name, value in values.items():
        (folder / name).write_text(value + "\n")  # as `echo secret > file` leaves it
    return folder


def test_every_secret_can_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = {f"LL_{name.upper()}": f"{name}-value" for name in SECRET_FIELDS}
    monkeypatch.setenv("LL_SECRETS_DIR", str(write(tmp_path / "secrets", **values)))
    settings = Settings()
    for name in SECRET_FIELDS:
        assert getattr(settings, name) == f"{name}-value"


def test_systemd_credentials_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = write(
        tmp_path / "credentials",
        LL_METRICS_KEY="from-a-file",
        LL_TURN_SECRET="turn-from-a-file",
        LL_PORT="9999",  # not a secret: a stray file changes nothing
    )
    monkeypatch.delenv("LL_SECRETS_DIR", raising=False)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    monkeypatch.setenv("LL_TURN_SECRET", "from-the-environment")
    settings = Settings()
    assert settings.metrics_key == "from-a-file"
    assert settings.turn_secret == "from-the-environment"
    assert settings.port == 8000


def test_a_secrets_folder_that_is_not_there_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LL_SECRETS_DIR", str(tmp_path / "missing"))
    with pytest.raises(ValidationError, match="is not a folder"):
        Settings()
