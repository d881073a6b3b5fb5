# Logs, alarms, the dashboard and X-Ray for one environment. The application's own metrics (names in
# config/metrics.py, listed in deploy/README.md) arrive as embedded-metric-format log lines.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

resource "aws_kms_key" "logs" {
  description         = "${var.name}: CloudWatch Logs, the alarm topic, X-Ray"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${var.name}-logs"
  target_key_id = aws_kms_key.logs.key_id
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy: the account root administers the key; "*" is this key
  #checkov:skip=CKV_AWS_111:A key policy: the account root administers the key; "*" is this key
  #checkov:skip=CKV_AWS_356:A key policy: "*" is this key
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:aws:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*"]
    }
  }
  statement {
    sid       = "AlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    }
  }
}

# --- Log groups -----------------------------------------------------------------------------------
locals {
  log_groups = {
    web    = "/callmcp/${var.environment}/web"
    worker = "/callmcp/${var.environment}/worker"
    beat   = "/callmcp/${var.environment}/beat"
    tasks  = "/callmcp/${var.environment}/tasks" # one-off tasks: migrate, collectstatic
    poller = "/aws/lambda/${var.poller_function_name}"
  }
}

resource "aws_cloudwatch_log_group" "this" {
  for_each          = local.log_groups
  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

# --- Alarm topic ------------------------------------------------------------------------------------
resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.logs.arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# --- X-Ray: traces encrypted with our key; an error group for the console -------------------------
resource "aws_xray_encryption_config" "this" {
  type   = "KMS"
  key_id = aws_kms_key.logs.arn
}

resource "aws_xray_group" "errors" {
  group_name        = "${var.name}-errors"
  filter_expression = "fault = true OR error = true"
  insights_configuration {
    insights_enabled      = true
    notifications_enabled = false
  }
}
