"""The Terraform in deploy/terraform, parsed with python-hcl2 and held to the deployment's hard
requirements in every environment (dev, staging, production). `terraform validate` cannot run
offline (no AWS provider), so these tests read what each environment would build: a module's
``var.x`` is resolved through the environment's module call and its ``settings.tf`` locals."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

from config import metrics

ROOT = Path(__file__).resolve().parents[2] / "deploy" / "terraform"
ENVIRONMENTS = ["dev", "staging", "production"]
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
UNKNOWN = object()  # a value only known at apply time (another module's output, a resource attribute)
DATA_SERVICES = {"s3", "dynamodb", "rds", "elasticache", "ssm", "sqs", "kms", "secretsmanager"}
TF_FILES = sorted(ROOT.rglob("*.tf"))


@cache
def parse(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle, serialization_options=OPTIONS)


def blocks(directory: Path, kind: str) -> list[dict[str, Any]]:
    return [block for path in sorted(directory.glob("*.tf")) for block in parse(path).get(kind, [])]


def resources(directory: Path) -> dict[str, dict[str, Any]]:
    """{"aws_lambda_function.poller": {...}} for resources (and data sources as "data.TYPE.NAME")."""
    found: dict[str, dict[str, Any]] = {}
    for kind, prefix in (("resource", ""), ("data", "data.")):
        for block in blocks(directory, kind):
            for type_, named in block.items():
                for name, body in named.items():
                    found[f"{prefix}{type_}.{name}"] = body
    return found


def merged(directory: Path, kind: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for block in blocks(directory, kind):
        for entry in block if isinstance(block, list) else [block]:
            values.update(entry)
    return values


def single(value: Any) -> Any:
    """python-hcl2 gives nested blocks as a list of one element."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


REFERENCE = re.compile(r"^\$\{(var|local)\.([A-Za-z0-9_]+)(\.[A-Za-z0-9_]+)?\}$")


class Environment:
    """One root under envs/: its module calls and locals, and values resolved into its modules."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.root = ROOT / "envs" / name
        self.locals = merged(self.root, "locals")
        self.variables = {name: single(body) for name, body in merged(self.root, "variable").items()}
        self.modules = merged(self.root, "module")

    def root_value(self, expression: Any) -> Any:
        if not isinstance(expression, str):
            return expression
        match = REFERENCE.match(expression)
        if not match:
            return self._interpolate(expression) if "${" in expression else expression
        kind, name, attribute = match.groups()
        if kind == "local":
            value = self.locals.get(name, UNKNOWN)
        else:
            value = self.variables.get(name, {}).get("default", UNKNOWN)
        if attribute and isinstance(value, dict):
            value = value.get(attribute[1:], UNKNOWN)
        return self.root_value(value) if isinstance(value, str) else value

    def _interpolate(self, template: str) -> Any:
        """``"/callmcp/${local.environment}"`` with literal locals and variables filled in."""
        parts = re.split(r"(\$\{[^}]*\})", template)
        out = []
        for part in parts:
            if part.startswith("${"):
                value = self.root_value(part) if REFERENCE.match(part) else UNKNOWN
                if value is UNKNOWN or isinstance(value, dict | list):
                    return UNKNOWN
                out.append(str(value))
            else:
                out.append(part)
        return "".join(out)

    def value(self, module: str, expression: Any) -> Any:
        """A module attribute's value in this environment (UNKNOWN if computed at apply time)."""
        if not isinstance(expression, str):
            return expression
        match = REFERENCE.match(expression)
        if not match:
            return UNKNOWN if "${" in expression else expression
        kind, name, attribute = match.groups()
        directory = ROOT / "modules" / module
        if kind == "local":
            return UNKNOWN
        call = self.call(module)
        if name in call:
            value = self.root_value(call[name])
        else:
            value = single(merged(directory, "variable")[name]).get("default", UNKNOWN)
        if attribute and isinstance(value, dict):
            value = value.get(attribute[1:], UNKNOWN)
        return value

    def call(self, module: str) -> dict[str, Any]:
        calls = [body for body in self.modules.values() if body["source"] == f"../../modules/{module}"]
        assert len(calls) == 1, f"{self.name} must call modules/{module} exactly once"
        return calls[0]


def module_resources(module: str) -> dict[str, dict[str, Any]]:
    return resources(ROOT / "modules" / module)


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def environment(request: pytest.FixtureRequest) -> Environment:
    return Environment(request.param)


@pytest.mark.parametrize("path", TF_FILES, ids=[str(path.relative_to(ROOT)) for path in TF_FILES])
def test_every_terraform_file_parses(path):
    assert isinstance(parse(path), dict)


def test_every_environment_has_a_root_that_uses_every_module():
    modules = {path.name for path in (ROOT / "modules").iterdir() if path.is_dir()}
    assert modules == {"network", "app", "data", "poller", "edge", "storage", "config", "observability"}
    for name in ENVIRONMENTS:
        environment = Environment(name)
        assert {Path(body["source"]).name for body in environment.modules.values()} == modules
        assert environment.locals["environment"] == name


# --- Separate accounts, remote state --------------------------------------------------------------
def test_each_environment_lives_in_its_own_account_with_remote_state_and_locking(environment):
    terraform = single(blocks(environment.root, "terraform"))
    assert "s3" in single(terraform["backend"])
    backend = parse_backend(environment.root / "backend.hcl")
    assert backend["key"] == f"callmcp/{environment.name}/terraform.tfstate"
    assert backend["dynamodb_table"] == "callmcp-tfstate-lock"
    assert backend["encrypt"] is True
    assert "default" not in environment.variables["account_id"]  # no environment guesses its account
    for provider in blocks(environment.root, "provider"):
        for body in provider.values():
            assert body["allowed_account_ids"] == ["${var.account_id}"]


def parse_backend(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle, serialization_options=OPTIONS)


def test_environments_do_not_share_address_space():
    cidrs = [Environment(name).locals["vpc_cidr"] for name in ENVIRONMENTS]
    assert len(set(cidrs)) == len(cidrs)


# --- The poller -------------------------------------------------------------------------------------
def test_the_poller_lambda_runs_alone_every_minute_for_up_to_900_s_with_a_dead_letter_queue(environment):
    found = module_resources("poller")
    function = found["aws_lambda_function.poller"]
    assert environment.value("poller", function["reserved_concurrent_executions"]) == 1
    assert environment.value("poller", function["timeout"]) == 900
    memory = environment.value("poller", function["memory_size"])
    assert isinstance(memory, int)
    assert 512 <= memory <= 10240
    assert single(function["dead_letter_config"])["target_arn"] == "${aws_sqs_queue.failed_invocations.arn}"
    assert single(function["vpc_config"])["subnet_ids"] == "${var.private_subnet_ids}"
    assert single(function["image_config"])["command"] == ["poller"]
    assert environment.value("poller", found["aws_cloudwatch_event_rule.schedule"]["schedule_expression"]) == (
        "rate(1 minute)"
    )
    target = found["aws_cloudwatch_event_target.poller"]
    assert target["arn"] == "${aws_lambda_function.poller.arn}"
    # the dead letters the app sends (POLLER_DLQ_URL) have a redrive policy to an archive queue
    redrive = found["aws_sqs_queue.dead_letters"]["redrive_policy"]
    assert "aws_sqs_queue.archive.arn" in redrive
    assert "maxReceiveCount" in redrive
    assert "aws_sqs_queue.dead_letters.url" in single(function["environment"])["variables"]
    assert "aws_sqs_queue.failed_invocations.arn" in str(found["aws_cloudwatch_event_target.poller"])


def test_the_poller_has_alarms_on_errors_throttles_duration_and_queue_depth():
    found = module_resources("poller")
    lambda_alarms = merged(ROOT / "modules" / "poller", "locals")["lambda_alarms"]
    assert {alarm["metric"] for alarm in lambda_alarms.values()} == {"Errors", "Throttles", "Duration"}
    assert "0.8" in str(lambda_alarms["duration"]["threshold"])  # 80% of the timeout
    depth = found["aws_cloudwatch_metric_alarm.queue_depth"]
    assert depth["metric_name"] == "ApproximateNumberOfMessagesVisible"
    assert set(depth["for_each"]) == {"dead-letters", "failed-invocations", "archive"}


# --- Data -------------------------------------------------------------------------------------------
def test_the_database_is_encrypted_backed_up_with_pitr_and_multi_az_in_production(environment):
    database = module_resources("data")["aws_db_instance.this"]
    assert database["storage_encrypted"] is True
    assert database["kms_key_id"] == "${aws_kms_key.data.arn}"
    assert environment.value("data", database["backup_retention_period"]) >= 7  # PITR within it
    assert database["publicly_accessible"] is False
    assert database["skip_final_snapshot"] is False
    assert database["parameter_group_name"] == "${aws_db_parameter_group.this.name}"
    multi_az = environment.value("data", database["multi_az"])
    protected = environment.value("data", database["deletion_protection"])
    if environment.name in {"staging", "production"}:
        assert multi_az is True
        assert protected is True
    if environment.name == "production":
        assert environment.value("data", database["backup_retention_period"]) == 35
        assert environment.locals["backup_copy_to_dr"] is True  # every backup is copied to the DR region
        assert "aws_backup_vault.dr" in environment.call("data")["backup_copy_vault_arn"]


def test_redis_is_encrypted_in_transit_and_at_rest_with_an_auth_token():
    redis = module_resources("data")["aws_elasticache_replication_group.this"]
    assert redis["transit_encryption_enabled"] is True
    assert redis["at_rest_encryption_enabled"] is True
    assert redis["auth_token"] == "${random_password.redis.result}"


# --- Storage ----------------------------------------------------------------------------------------
def test_the_recordings_bucket_blocks_public_access_is_encrypted_versioned_and_expires():
    found = module_resources("storage")
    block = found["aws_s3_bucket_public_access_block.this"]
    assert block["for_each"]["recordings"] == "${aws_s3_bucket.recordings.id}"
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        assert block[flag] is True
    encryption = single(single(found["aws_s3_bucket_server_side_encryption_configuration.recordings"]["rule"])[
        "apply_server_side_encryption_by_default"])
    assert encryption["sse_algorithm"] == "aws:kms"
    assert single(found["aws_s3_bucket_versioning.recordings"]["versioning_configuration"])["status"] == "Enabled"
    rule = single(found["aws_s3_bucket_lifecycle_configuration.recordings"]["rule"])
    assert single(rule["expiration"])["days"] == "${var.recordings_expire_days}"
    assert found["aws_s3_bucket_ownership_controls.recordings"]["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
    statements = found["data.aws_iam_policy_document.recordings"]["statement"]
    assert [s["effect"] for s in statements] == ["Deny"]  # the bucket policy only denies (plain HTTP)
    assert not any(key.startswith("aws_s3_bucket_acl") for key in found)


# --- Edge -------------------------------------------------------------------------------------------
def test_the_waf_has_a_rate_based_rule_and_managed_groups_and_guards_the_load_balancer(environment):
    found = module_resources("edge")
    acl = found["aws_wafv2_web_acl.api"]
    rules = acl["rule"]
    rate = [rule for rule in rules if "rate_based_statement" in single(rule["statement"])]
    assert rate, "no rate-based rule"
    limit = single(single(rate[0]["statement"])["rate_based_statement"])["limit"]
    assert isinstance(environment.value("edge", limit), int)
    assert "block" in single(rate[0]["action"])
    managed = {single(single(rule["statement"])["managed_rule_group_statement"])["name"] for rule in rules
               if "managed_rule_group_statement" in single(rule["statement"])}
    assert {"AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAnonymousIpList"} <= managed
    dynamic = merged(ROOT / "modules" / "edge", "locals")["managed_rule_groups"]
    assert "AWSManagedRulesCommonRuleSet" in dynamic
    association = found["aws_wafv2_web_acl_association.api"]
    assert association["resource_arn"] == "${aws_lb.this.arn}"
    assert "rate_based_statement" in str(found["aws_wafv2_web_acl.static"])


def test_the_load_balancer_routes_the_service_paths_to_a_websocket_ready_target_group(environment):
    found = module_resources("edge")
    assert environment.value("edge", found["aws_lb.this"]["idle_timeout"]) >= 60
    target = found["aws_lb_target_group.web"]
    assert single(target["health_check"])["path"] == "/readyz"
    assert single(target["stickiness"])["enabled"] is False  # sessions live in Redis
    routes = merged(ROOT / "modules" / "edge", "locals")["routes"]
    paths = {path for route in routes.values() for path in route["paths"]}
    assert {"/api/*", "/mcp", "/.well-known/*", "/readyz"} <= paths
    https = found["aws_lb_listener.https"]
    assert https["ssl_policy"].startswith("ELBSecurityPolicy-TLS13")
    assert single(single(found["aws_lb_listener.http"]["default_action"])["redirect"])["protocol"] == "HTTPS"


# --- App ----------------------------------------------------------------------------------------------
def test_the_web_service_scales_on_cpu_and_requests_and_the_worker_on_cpu(environment):
    found = module_resources("app")
    metric_of = {
        name: single(single(body["target_tracking_scaling_policy_configuration"])["predefined_metric_specification"])[
            "predefined_metric_type"]
        for name, body in found.items() if name.startswith("aws_appautoscaling_policy.")
    }
    assert metric_of == {
        "aws_appautoscaling_policy.web_cpu": "ECSServiceAverageCPUUtilization",
        "aws_appautoscaling_policy.web_requests": "ALBRequestCountPerTarget",
        "aws_appautoscaling_policy.worker_cpu": "ECSServiceAverageCPUUtilization",
    }
    web = environment.root_value(environment.call("app")["web"])
    assert 1 <= web["min"] <= web["max"]
    if environment.name == "production":
        assert web["min"] >= 2  # survives the loss of a task or an AZ


def test_there_is_exactly_one_beat_and_deployments_roll_back_on_failure():
    found = module_resources("app")
    beat = found["aws_ecs_service.beat"]
    assert beat["desired_count"] == 1
    assert beat["deployment_maximum_percent"] == 100  # never two beats during a deployment
    for service in ("web", "worker", "beat"):
        breaker = single(found[f"aws_ecs_service.{service}"]["deployment_circuit_breaker"])
        assert breaker == {"enable": True, "rollback": True}


# --- IAM ----------------------------------------------------------------------------------------------
def _statements(module_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, body in resources(module_dir).items():
        if name.startswith("data.aws_iam_policy_document."):
            for statement in body.get("statement", []):
                found.append((name, statement))
    return found


def _workload_permissions() -> dict[str, list[dict[str, Any]]]:
    """The app module's per-role statements (built from locals) and the poller's."""
    local = merged(ROOT / "modules" / "app", "locals")
    permissions = {}
    for role, expression in local["task_permissions"].items():
        names = re.findall(r"local\.([a-z_]+)", str(expression))
        permissions[role] = [statement for name in names for statement in local[name]]
    permissions["poller"] = [statement for name, statement in _statements(ROOT / "modules" / "poller")
                             if name == "data.aws_iam_policy_document.poller"]
    return permissions


def test_each_workload_has_its_own_role_and_no_policy_has_a_wildcard_action():
    permissions = _workload_permissions()
    assert set(permissions) == {"web", "worker", "beat", "tasks", "poller"}
    assert module_resources("app")["aws_iam_role.task"]["for_each"] == "${local.task_permissions}"
    for role, statements in permissions.items():
        for statement in statements:
            for action in statement["actions"]:
                assert action != "*", f"{role}: {statement['sid']}"
                service, _, verb = action.partition(":")
                assert "*" not in verb, f"{role}: wildcard action {action}"


def test_workloads_get_only_what_they_use():
    actions = {role: {action for statement in statements for action in statement["actions"]}
               for role, statements in _workload_permissions().items()}
    assert not any(a.startswith(("s3:", "sqs:")) for a in actions["beat"])  # beat only reads its settings
    assert "sqs:SendMessage" not in actions["web"]
    assert "sqs:SendMessage" in actions["worker"]  # the beat-scheduled poll task runs on a worker
    assert "sqs:SendMessage" in actions["poller"]
    assert "s3:DeleteObject" not in actions["web"] | actions["worker"] | actions["poller"]  # recordings are kept
    assert all("ssm:GetParametersByPath" in granted for granted in actions.values())


def test_no_policy_anywhere_has_wildcard_actions_on_data_services():
    directories = [ROOT / "bootstrap", *[(ROOT / "modules" / m) for m in ("network", "app", "data", "poller", "edge",
                                                                          "storage", "config", "observability")]]
    for directory in directories:
        for name, statement in _statements(directory):
            if statement.get("effect") == "Deny":
                continue
            for action in statement.get("actions", []):
                assert action != "*", f"{directory.name}/{name}"
                service, _, verb = action.partition(":")
                if service in DATA_SERVICES and verb == "*":
                    principals = str(statement.get("principals", ""))
                    assert service == "kms", f"{directory.name}/{name}: {action}"
                    assert ":root" in principals, f"{directory.name}/{name}: {action} for anyone but the account root"


# --- Config and observability -------------------------------------------------------------------------------
def test_ssm_holds_every_setting_production_requires(environment):
    config = merged(ROOT / "modules" / "config", "locals")
    operator_set = set(re.findall(r'"([A-Z_]+)"', config["operator_set"]))  # toset([...])
    stored = set(config["generated"]) | operator_set | set(environment.locals["settings"])
    required = {"SECRET_KEY", "JWT_SIGNING_KEY", "DATABASE_URL", "REDIS_URL", "BLAND_API_KEY", "BLAND_WEBHOOK_SECRET",
                "ALLOWED_HOSTS", "PUBLIC_BASE_URL", "RECORDINGS_S3_BUCKET", "POLLER_DLQ_URL", "SHEETS_CREDENTIALS"}
    assert required <= stored
    for name, body in module_resources("config").items():
        if name in {"aws_ssm_parameter.generated", "aws_ssm_parameter.operator_set"}:
            assert body["type"] == "SecureString"
    assert environment.root_value(environment.call("config")["parameter_prefix"]) == f"/callmcp/{environment.name}"


def _application_metrics() -> list[tuple[str, dict[str, str]]]:
    """(metric, dimensions) of every alarm and dashboard widget on the application's namespace."""
    used = []
    for module in ("observability", "poller"):
        for name, body in module_resources(module).items():
            if name.startswith("aws_cloudwatch_metric_alarm.") and body.get("namespace") == "${var.metrics_namespace}":
                used.append((body["metric_name"], body.get("dimensions", {})))
    dashboard = (ROOT / "modules" / "observability" / "dashboard.tf").read_text()
    for metric in re.findall(r'\[local\.ns, "([A-Za-z]+)"', dashboard):
        used.append((metric, {}))
    for metric in re.findall(r'MetricName=\\"([A-Za-z]+)\\"', dashboard):
        used.append((metric, {"Tool": "*"}))
    return used


def test_alarms_and_dashboard_use_only_metrics_the_app_declares_with_their_dimensions():
    used = _application_metrics()
    names = {name for name, _ in used}
    assert {"SheetsQuotaUsedPercent", "SheetsBacklogAgeSeconds", "PollerLagSeconds", "PollerRuns", "McpToolCalls",
            "CreditsSpent"} <= names
    for name, dimensions in used:
        assert name in metrics.CATALOGUE, f"{name} is not declared in config/metrics.py"
        if dimensions:
            assert set(dimensions) == set(metrics.CATALOGUE[name].dimensions), name


def test_logs_are_kept_and_encrypted_and_alarms_reach_a_topic(environment):
    found = module_resources("observability")
    groups = found["aws_cloudwatch_log_group.this"]
    assert groups["kms_key_id"] == "${aws_kms_key.logs.arn}"
    assert environment.value("observability", groups["retention_in_days"]) >= 30
    assert found["aws_sns_topic.alarms"]["kms_master_key_id"] == "${aws_kms_key.logs.arn}"
    assert "aws_xray_encryption_config.this" in found
