"""Every API path answers JSON, with DEBUG on too: a client gets a body it can read, never Django's
HTML debug page, and a client mistake leaves no traceback in the log."""

from __future__ import annotations

import logging

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def debug(request, settings):  # noqa: ANN001, ANN201
    settings.DEBUG = request.param
    return request.param


def _no_traceback(caplog) -> None:  # noqa: ANN001
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]


def test_an_oversized_body_to_post_calls_is_413_json_stating_the_limit(api, debug, settings, caplog):
    caplog.set_level(logging.INFO)
    body = b'{"phone_number": "+12125550100", "task": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    response = api.generic("POST", "/api/v1/calls/", body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "request_too_large"
    assert f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes" in error["message"]
    assert error["details"] == {"limit_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    _no_traceback(caplog)
    assert [r.getMessage() for r in caplog.records] == ["Request Entity Too Large: /api/v1/calls/"]  # one line


def test_an_unknown_api_path_is_404_json(api, debug, caplog):
    response = api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"
    _no_traceback(caplog)


def test_a_path_missing_its_trailing_slash_is_told_the_right_one(api, debug):
    response = api.get("/api/v1/credits")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No such path: /api/v1/credits. Did you mean /api/v1/credits/?"


@pytest.mark.urls("tests.config.failing_urls")
def test_a_server_error_on_an_api_path_is_500_json_with_the_traceback_in_the_log(api, debug, caplog):
    response = api.get("/api/v1/test-server-error/")
    assert response.status_code == 500
    assert response.json()["error"] == {"code": "server_error", "message": "Internal server error."}
    assert "the test view fails" not in response.content.decode()
    logged = [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in logged] == ["server error on GET /api/v1/test-server-error/"]


@pytest.mark.parametrize("path", ["/api/v1/calls/", "/api/v1/credits/", "/api/v1/no-such-thing/", "/api/docs/"])
def test_a_disallowed_host_on_an_api_path_is_400_json_naming_the_host(anon, debug, settings, caplog, path):
    settings.ALLOWED_HOSTS = ["calls.example.com"]
    response = anon.get(path, HTTP_HOST="evil.example.net")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "disallowed_host"
    assert "evil.example.net" in error["message"]
    _no_traceback(caplog)


def test_a_disallowed_host_outside_the_api_is_still_refused(anon, settings):
    settings.ALLOWED_HOSTS = ["calls.example.com"]
    settings.DEBUG = False
    assert anon.get("/", HTTP_HOST="evil.example.net").status_code == 400
