"""The GitHub workflows: CI runs lint, tests on PostgreSQL and Redis, and the AWS checks; a deployment
goes dev on main, then staging and production on a tag, each stage behind its environment, and each
stage plans, applies, migrates and smoke-tests."""

from __future__ import annotations

from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def _load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def test_ci_lints_tests_on_real_services_and_runs_the_aws_checks():
    jobs = _load("ci.yml")["jobs"]
    assert {"postgres", "redis"} <= set(jobs["test"]["services"])
    assert jobs["test"]["env"]["CALLMCP_REQUIRE_SERVICES"] == "1"
    assert any(step.get("run") == ".venv/bin/ruff check ." for step in jobs["lint"]["steps"])
    assert any("aws_checks.sh" in step.get("run", "") for step in jobs["aws"]["steps"])


def test_deploy_goes_dev_on_main_then_staging_and_production_on_a_tag():
    workflow = _load("deploy.yml")
    assert workflow["on"]["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert workflow["permissions"]["id-token"] == "write"
    jobs = workflow["jobs"]
    assert "refs/heads/main" in jobs["dev"]["if"]
    assert "refs/tags/v" in jobs["staging"]["if"]
    assert "refs/tags/v" in jobs["production"]["if"]
    assert "staging" in jobs["production"]["needs"]  # production only after staging
    assert {jobs[stage]["with"]["stage"] for stage in ("dev", "staging", "production")} == {
        "dev", "staging", "production"}
    build = jobs["build"]["steps"]
    assert any(step.get("uses", "").startswith("docker/build-push-action") and step["with"]["push"] for step in build)


def test_each_stage_runs_in_its_environment_and_plans_applies_migrates_and_smoke_tests():
    job = _load("deploy-stage.yml")["jobs"]["deploy"]
    assert job["environment"]["name"] == "${{ inputs.stage }}"  # required reviewers live on the environment
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    order = [runs.index(marker) for marker in (
        "terraform init", "terraform plan", "terraform apply", "aws ecs run-task", "deploy/smoke.py")]
    assert order == sorted(order)
    assert "test \"$code\" = \"0\"" in runs  # a failed migration fails the deployment
