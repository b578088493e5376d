"""The compose stack in deploy/: no Docker engine runs here, so these check what can be checked without one —
that yuqing in the container reads its configuration as written, reaches the services by their compose names,
and that the image holds every part of the package."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml

import settings as config

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def test_every_variable_the_stack_reads_is_in_the_example_env(compose: dict) -> None:
    used = set(re.findall(r"\$\{([A-Z_]+)", (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")))
    example = {line.split("=", 1)[0] for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines()
               if line and not line.startswith("#")}
    assert used and used <= example, used - example


def test_yuqing_in_the_container_reads_its_configuration(compose: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    service = compose["services"]["yuqing"]
    [mount] = [v for v in service["volumes"] if v.startswith("./yuqing.toml:")]
    assert f"ENV YUQING_CONFIG={mount.split(':')[1]}" in (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    for name in [n for n in os.environ if n.startswith(config.ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in service["environment"].items():
        monkeypatch.setenv(name, re.sub(r"\$\{[^}]*\}", "secret", str(value)))
    settings = config.load(DEPLOY / "yuqing.toml")  # as `yuqing run` in the container reads it
    assert settings.store.backend == "elasticsearch" and settings.store.password == "secret"
    assert {_host(url) for url in settings.store.url} <= compose["services"].keys()
    assert _host(settings.kibana.url) in compose["services"]
    database = compose["services"][_host(settings.alerts.state_url)]  # the alert state, by its password from .env
    assert settings.alerts.state_password == "secret" and "postgres" in database["image"]
    assert settings.alerts.state_url.endswith(f"{database['environment']['POSTGRES_USER']}@postgres:5432/"
                                              f"{database['environment']['POSTGRES_DB']}")
    assert _host(settings.alerts.state_url) in service["depends_on"]
    published = [p for p in service["ports"] if p.endswith(f":{settings.dashboard.port}")]
    assert published and published[0].startswith("127.0.0.1:")
    assert {"localhost", "127.0.0.1"} <= set(settings.dashboard.hosts)


def _host(url: str) -> str:
    found = re.match(r"[a-z+]+://(?:[^@/]*@)?([^:/]+)", url)
    assert found, url
    return found.group(1)


def test_the_image_holds_every_part_of_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    modules = [f"{m}.py" for m in project["tool"]["setuptools"]["py-modules"]]
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    copied = {word for line in dockerfile.splitlines() if line.startswith("COPY ") for word in line.split()[1:-1]}
    kept = {line[1:] for line in (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
            if line.startswith("!")}
    for part in [*packages, *modules, "pyproject.toml", "README.md"]:
        assert part in copied and part in kept, part
