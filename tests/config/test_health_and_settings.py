from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_is_public(anon):
    response = anon.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_dependency(anon, db, settings):
    response = anon.get("/readyz")
    assert response.status_code == 200
    expected = {"database": "ok"} | ({"redis": "ok"} if settings.REDIS_URL else {})
    assert response.json()["checks"] == expected


def test_readyz_is_503_naming_redis_when_it_is_unreachable(anon, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = anon.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "failed"
    assert "redis" in response.json()["errors"]


def test_swagger_ui_and_schema_are_served_without_internet(anon):
    page = anon.get("/api/docs/")
    assert page.status_code == 200
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in page.content
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/v1/credits/" in schema.json()["paths"]


def _start_django(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "nosuchdb://x/y"),
        ("REDIS_URL", "http://localhost"),
        ("DEBUG", "maybe"),
        ("JWT_ACCESS_LIFETIME_SECONDS", "soon"),
    ],
)
def test_a_bad_environment_value_stops_startup_naming_the_variable(variable, value):
    result = _start_django(**{variable: value})
    assert result.returncode != 0
    assert f"Environment variable {variable} has an invalid value" in result.stderr


def test_production_settings_require_a_secret_key():
    result = _start_django(DJANGO_SETTINGS_MODULE="config.settings.production", ALLOWED_HOSTS="example.org")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr
