# One task role per workload with only what it uses, and one execution role (image pull, log
# delivery) that ECS itself assumes. No wildcard actions; data resources are named.

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PullImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [var.ecr_repository_arn]
  }
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for arn in values(var.log_group_arns) : "${arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-and-log"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

locals {
  # What every workload needs: its settings and secrets, and (ADOT sidecar) trace upload.
  read_settings = [
    {
      sid       = "ReadSettings"
      actions   = ["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"]
      resources = [var.parameter_path_arn, "${var.parameter_path_arn}/*"]
    },
    {
      sid       = "DecryptSettings"
      actions   = ["kms:Decrypt"]
      resources = [var.config_kms_key_arn]
    },
    {
      sid       = "Traces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
      resources = ["*"] # X-Ray's write actions have no resource-level permissions
    },
  ]
  recordings = [
    {
      sid       = "Recordings"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["${var.recordings_bucket_arn}/recordings/*"]
    },
    {
      sid       = "RecordingsExist"
      actions   = ["s3:ListBucket"]
      resources = [var.recordings_bucket_arn]
    },
    {
      sid       = "RecordingsKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.data_kms_key_arn]
    },
  ]
  dead_letters = [
    {
      sid       = "PollerDeadLetters"
      actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
      resources = [var.poller_dead_letter_queue_arn]
    },
  ]
  static_files = [
    {
      sid       = "StaticFiles"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
      resources = ["${var.static_bucket_arn}/*"]
    },
    {
      sid       = "StaticFilesList"
      actions   = ["s3:ListBucket"]
      resources = [var.static_bucket_arn]
    },
  ]
  static_manifest = [
    {
      sid       = "StaticManifest" # hashed static file names, read once per process
      actions   = ["s3:GetObject"]
      resources = ["${var.static_bucket_arn}/static/staticfiles.json"]
    },
  ]
  task_permissions = {
    web    = concat(local.read_settings, local.recordings, local.static_manifest)
    worker = concat(local.read_settings, local.recordings, local.dead_letters)
    beat   = local.read_settings
    # one-off tasks: migrate and collectstatic
    tasks = concat(local.read_settings, local.static_files)
  }
}

resource "aws_iam_role" "task" {
  for_each           = local.task_permissions
  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

data "aws_iam_policy_document" "task" {
  for_each = local.task_permissions
  dynamic "statement" {
    for_each = each.value
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = local.task_permissions
  name     = "${each.key}-least-privilege"
  role     = aws_iam_role.task[each.key].id
  policy   = data.aws_iam_policy_document.task[each.key].json
}
