# Every secret lives in SSM Parameter Store as a SecureString under one prefix, encrypted with this
# environment's key. The application reads the whole prefix at start-up (config/aws_ssm.py,
# AWS_SSM_PREFIX): /callmcp/production/SECRET_KEY becomes SECRET_KEY. config/settings/production.py
# then refuses to start without the secrets it requires.
#
# Generated here: SECRET_KEY, JWT_SIGNING_KEY, DATABASE_URL, REDIS_URL.
# Set by an operator after the first apply (placeholders until then; Terraform never overwrites them):
#   BLAND_API_KEY, BLAND_WEBHOOK_SECRET, SHEETS_CREDENTIALS (the Google service-account key JSON).
# The state holds the generated values: the state bucket is encrypted and readable only by the deploy role.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

resource "aws_kms_key" "config" {
  description         = "${var.name}: SSM parameters (settings and secrets)"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "config" {
  name          = "alias/${var.name}-config"
  target_key_id = aws_kms_key.config.key_id
}

# Root of the account administers the key; use is granted by IAM policies of the workloads.
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
}

resource "random_password" "secret_key" {
  length  = 64
  special = false
}

resource "random_password" "jwt_signing_key" {
  length  = 64
  special = false
}

locals {
  generated = {
    SECRET_KEY      = random_password.secret_key.result
    JWT_SIGNING_KEY = random_password.jwt_signing_key.result
    DATABASE_URL    = var.database_url
    REDIS_URL       = var.redis_url
  }
  operator_set = toset(["BLAND_API_KEY", "BLAND_WEBHOOK_SECRET", "SHEETS_CREDENTIALS"])
}

resource "aws_ssm_parameter" "generated" {
  for_each = toset(["SECRET_KEY", "JWT_SIGNING_KEY", "DATABASE_URL", "REDIS_URL"]) # the keys of local.generated
  name     = "${var.parameter_prefix}/${each.key}"
  type     = "SecureString"
  key_id   = aws_kms_key.config.arn
  value    = local.generated[each.key]
  tier     = "Standard"
}

resource "aws_ssm_parameter" "operator_set" {
  for_each = local.operator_set
  name     = "${var.parameter_prefix}/${each.key}"
  type     = "SecureString"
  key_id   = aws_kms_key.config.arn
  value    = "set-me" # replaced with `aws ssm put-parameter --overwrite` (deploy/README.md)
  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_ssm_parameter" "settings" {
  #checkov:skip=CKV2_AWS_34:These are plain settings (host names, URLs, bucket names), not secrets
  for_each = var.settings
  name     = "${var.parameter_prefix}/${each.key}"
  type     = "String"
  value    = each.value
}
