"""Settings and secrets from SSM Parameter Store at start-up (AWS_SSM_PREFIX), against a moto server:
the real boto3 client reads them; the environment still wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import aws_ssm
from tests.aws.conftest import client

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "/callmcp/ci"
STORED = {
    "SECRET_KEY": "secret-key-from-ssm-0123456789-0123456789-0123456789",
    "JWT_SIGNING_KEY": "jwt-key-from-ssm-0123456789",
    "ALLOWED_HOSTS": "stored.example.org",
    "DATABASE_URL": "postgres://callmcp:pw@db.internal:5432/callmcp",
    "REDIS_URL": "rediss://:token@cache.internal:6379/0",
    "bland/api_key": "bland-key-from-ssm",
    "bland/webhook_secret": "webhook-secret-from-ssm",
    "PUBLIC_BASE_URL": "https://api.example.org",
}
SETTINGS_DUMP = (
    "import json; from django.conf import settings as s; print(json.dumps({"
    "'SECRET_KEY': s.SECRET_KEY, 'ALLOWED_HOSTS': s.ALLOWED_HOSTS, 'BLAND_API_KEY': s.BLAND_API_KEY, "
    "'BLAND_WEBHOOK_SECRET': s.BLAND_WEBHOOK_SECRET, 'PUBLIC_BASE_URL': s.PUBLIC_BASE_URL, "
    "'DB_HOST': s.DATABASE_URL_HOST if hasattr(s, 'DATABASE_URL_HOST') else s.DATABASES['default']['HOST'], "
    "'REDIS_URL': s.REDIS_URL, 'JWT': s.SIMPLE_JWT['SIGNING_KEY']}))"
)


@pytest.fixture
def stored(aws):  # noqa: ANN001, ANN201
    ssm = client("ssm", aws)
    for name, value in STORED.items():
        secret = name.isupper() and name in {"SECRET_KEY", "JWT_SIGNING_KEY", "DATABASE_URL", "REDIS_URL"}
        ssm.put_parameter(Name=f"{PREFIX}/{name}", Value=value,
                          Type="SecureString" if secret or "/" in name else "String")
    return aws


def _start(code: str, command: tuple[str, ...] = ("shell", "-v", "0", "-c"), **env: str
           ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "BLAND_API_KEY",
                          "BLAND_WEBHOOK_SECRET", "PUBLIC_BASE_URL", "JWT_SIGNING_KEY"}}
    return subprocess.run(  # noqa: S603 - our interpreter, our manage.py
        [sys.executable, "manage.py", *command, *([code] if code else [])], cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.production", "AWS_SSM_PREFIX": PREFIX, **env},
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_production_starts_with_its_secrets_from_ssm_and_the_environment_overriding(stored):
    result = _start(SETTINGS_DUMP, ALLOWED_HOSTS="override.example.org")
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {
        "SECRET_KEY": STORED["SECRET_KEY"],
        "ALLOWED_HOSTS": ["override.example.org"],  # the environment wins over the store
        "BLAND_API_KEY": "bland-key-from-ssm",  # /bland/api_key -> BLAND_API_KEY
        "BLAND_WEBHOOK_SECRET": "webhook-secret-from-ssm",
        "PUBLIC_BASE_URL": "https://api.example.org",
        "DB_HOST": "db.internal",
        "REDIS_URL": STORED["REDIS_URL"],
        "JWT": STORED["JWT_SIGNING_KEY"],
    }


def test_without_the_store_production_refuses_to_start_for_want_of_its_secret(stored):
    result = _start("", command=("check",), AWS_SSM_PREFIX="")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_an_unreachable_store_stops_startup_naming_the_prefix(aws):
    result = _start("", command=("check",), AWS_ENDPOINT_URL="http://127.0.0.1:9")
    assert result.returncode != 0
    assert f"Could not read settings from SSM Parameter Store under AWS_SSM_PREFIX={PREFIX}" in result.stderr


def test_the_store_is_read_once_per_process_and_kept(stored):
    ssm = client("ssm", stored)
    first: dict[str, str] = {"AWS_SSM_PREFIX": PREFIX + "/"}
    aws_ssm._cache.clear()
    taken = aws_ssm.load_environment(first, client=ssm)
    assert "SECRET_KEY" in taken
    assert first["BLAND_WEBHOOK_SECRET"] == "webhook-secret-from-ssm"
    ssm.delete_parameter(Name=f"{PREFIX}/bland/webhook_secret")
    second: dict[str, str] = {"AWS_SSM_PREFIX": PREFIX, "SECRET_KEY": "set-here", "DEBUG": ""}
    taken = aws_ssm.load_environment(second, client=ssm)
    assert second["BLAND_WEBHOOK_SECRET"] == "webhook-secret-from-ssm"  # from the cache, not SSM again
    assert second["SECRET_KEY"] == "set-here"
    assert "SECRET_KEY" not in taken
    aws_ssm._cache.clear()


def test_a_parameter_that_names_no_variable_is_refused_with_its_name(aws):
    ssm = client("ssm", aws)
    ssm.put_parameter(Name=f"{PREFIX}/has space", Value="x", Type="String")
    with pytest.raises(ImproperlyConfigured, match="does not name an environment variable"):
        aws_ssm.read_parameters(PREFIX, client=ssm)


def test_without_a_prefix_nothing_is_read():
    environ = {"SECRET_KEY": "k"}
    assert aws_ssm.load_environment(environ) == []
    assert environ == {"SECRET_KEY": "k"}


def test_collectstatic_uploads_hashed_static_files_that_pages_link_through_the_cdn(aws, tmp_path):
    s3 = client("s3", aws)
    s3.create_bucket(Bucket="callmcp-static")
    env = {"STATIC_S3_BUCKET": "callmcp-static", "STATIC_URL": "https://static.example.org/static/",
           "AWS_SSM_PREFIX": "", "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    # Swagger UI's files only, to keep the test quick (the admin's 127 files take a minute against moto)
    upload = _start("", command=("collectstatic", "--noinput", "-v", "0", "-i", "admin", "-i", "rest_framework"),
                    **env)
    assert upload.returncode == 0, upload.stderr
    keys = {item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="callmcp-static")
            for item in page.get("Contents", [])}
    assert "static/staticfiles.json" in keys
    assert any(key.startswith("static/drf_spectacular_sidecar/swagger-ui-dist/") for key in keys)
    asset = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css"
    url = _start(f"from django.templatetags.static import static; print(static({asset!r}))", **env)
    assert url.returncode == 0, url.stderr
    link = url.stdout.strip().splitlines()[-1]
    assert link.startswith(f"https://static.example.org/static/{asset.removesuffix('.css')}.")
    assert link.removeprefix("https://static.example.org/") in keys  # the hashed name that was uploaded
