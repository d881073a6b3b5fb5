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


SERVICES = {"DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "BLAND_API_KEY", "BLAND_WEBHOOK_SECRET", "SECRET_KEY",
            "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}
PRODUCTION = {"DJANGO_SETTINGS_MODULE": "config.settings.production", "SECRET_KEY": "s" * 50,
              "ALLOWED_HOSTS": "api.example.org", "DATABASE_URL": "postgres://app@db.example.org:5432/callmcp",
              "REDIS_URL": "redis://cache.example.org:6379/0", "PUBLIC_BASE_URL": "https://api.example.org"}
SHOW_WIRING = ("from django.conf import settings; from mcp_gateway.gateway import build_gateway; g = build_gateway(); "
               "print(settings.SETTINGS_MODULE, settings.CELERY_TASK_ALWAYS_EAGER, "
               "type(g.authenticator).__name__, sorted(g.registry.tools))")


def _start_django(*command: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SERVICES}
    return subprocess.run(  # noqa: S603 - our interpreter and manage.py, fixed arguments
        [sys.executable, "manage.py", *(command or ("check",))],
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


def test_production_settings_refuse_to_start_naming_every_missing_variable():
    result = _start_django(DJANGO_SETTINGS_MODULE="config.settings.production", ALLOWED_HOSTS="example.org")

    assert result.returncode != 0
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL"):
        assert f"{name} is required" in result.stderr
    assert "ALLOWED_HOSTS is required" not in result.stderr


def test_production_with_a_real_bland_key_needs_its_webhook_secret():
    result = _start_django(**PRODUCTION, BLAND_API_KEY="org_live_key")

    assert result.returncode != 0
    assert "cannot start: BLAND_WEBHOOK_SECRET is required (it verifies Bland's webhooks" in result.stderr


def test_production_with_the_real_services_starts_with_tokens_the_apps_tools_and_a_worker_for_tasks():
    result = _start_django("shell", "--no-imports", "-c", SHOW_WIRING, **PRODUCTION, BLAND_API_KEY="org_live_key",
                           BLAND_WEBHOOK_SECRET="whsec")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 3)[:3] == ["config.settings.production", "False", "JwtAuthenticator"]
    assert "'cancelCall'" in result.stdout


def test_manage_py_and_asgi_default_to_the_embedded_settings():
    managed = _start_django("shell", "--no-imports", "-c", SHOW_WIRING)
    asgi = subprocess.run(
        [sys.executable, "-c", "import config.asgi, os; print(os.environ['DJANGO_SETTINGS_MODULE'])"],
        cwd=ROOT, env={k: v for k, v in os.environ.items() if k not in SERVICES}, capture_output=True, text=True,
        timeout=60, check=False,
    )

    assert managed.returncode == 0, managed.stderr
    assert managed.stdout.split(" ", 3)[:3] == ["config.settings.base", "True", "JwtAuthenticator"]
    assert asgi.stdout.strip() == "config.settings.base", asgi.stderr


def test_the_conformance_settings_serve_only_the_fixtures_to_an_anonymous_caller():
    result = _start_django("shell", "--no-imports", "-c", SHOW_WIRING,
                           DJANGO_SETTINGS_MODULE="config.settings.conformance")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 3)[:3] == ["config.settings.conformance", "True", "AnonymousAuthenticator"]
    assert "'json_schema_2020_12_tool'" in result.stdout
