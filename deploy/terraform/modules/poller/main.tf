# The poller: a Lambda from the same image, every minute, never two at once (reserved concurrency 1;
# its database lock also refuses a second runner), with a 900 s timeout of which a pass uses at most
# POLLER_MAX_SECONDS. Two SQS queues:
#   dead-letters        - calls the poller gave up on (POLLER_DLQ_URL, sent by the app itself);
#                         messages that fail processing 5 times move on to dead-letters-archive
#   failed-invocations  - invocations that failed or expired (Lambda's and EventBridge's dead-letter queue)

data "aws_region" "current" {}

locals {
  function_name = "${var.name}-poller"
}

resource "aws_sqs_queue" "archive" {
  name                      = "${var.name}-poller-dead-letters-archive"
  message_retention_seconds = 1209600 # 14 days, SQS's maximum
  kms_master_key_id         = var.queue_kms_key_arn
}

resource "aws_sqs_queue" "dead_letters" {
  name                       = "${var.name}-poller-dead-letters"
  message_retention_seconds  = 1209600
  visibility_timeout_seconds = 300
  kms_master_key_id          = var.queue_kms_key_arn
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.archive.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "archive" {
  queue_url = aws_sqs_queue.archive.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.dead_letters.arn]
  })
}

resource "aws_sqs_queue" "failed_invocations" {
  name                      = "${var.name}-poller-failed-invocations"
  message_retention_seconds = 1209600
  kms_master_key_id         = var.queue_kms_key_arn
}

data "aws_iam_policy_document" "failed_invocations" {
  statement {
    sid       = "EventBridgeDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failed_invocations.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.schedule.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "failed_invocations" {
  queue_url = aws_sqs_queue.failed_invocations.id
  policy    = data.aws_iam_policy_document.failed_invocations.json
}

# --- The function ---------------------------------------------------------------------------------
resource "aws_lambda_function" "poller" {
  #checkov:skip=CKV_AWS_272:Code signing applies to .zip packages only; the image comes from our ECR with immutable tags
  function_name                  = local.function_name
  description                    = "callmcp poller: brings every call to its final state (manage.py poll_calls)"
  package_type                   = "Image"
  image_uri                      = var.image
  role                           = aws_iam_role.poller.arn
  timeout                        = var.timeout_seconds
  memory_size                    = var.memory_mb
  reserved_concurrent_executions = 1
  kms_key_arn                    = var.config_kms_key_arn
  image_config {
    command = ["poller"]
  }
  vpc_config {
    subnet_ids         = var.private_subnet_ids
    security_group_ids = [var.poller_security_group_id]
  }
  dead_letter_config {
    target_arn = aws_sqs_queue.failed_invocations.arn
  }
  tracing_config {
    mode = "Active"
  }
  environment {
    variables = merge({
      DJANGO_SETTINGS_MODULE = "config.settings.production"
      CALLMCP_ENVIRONMENT    = var.environment
      AWS_SSM_PREFIX         = var.parameter_prefix
      LOG_FORMAT             = "json"
      METRICS_BACKEND        = "emf"
      POLLER_DLQ_URL         = aws_sqs_queue.dead_letters.url
    }, var.environment_variables)
  }
}

# A failed pass is not retried: the next minute's pass picks up from the checkpoint. An event that
# waited more than 5 minutes (throttled behind a long pass) is dropped to the dead-letter queue.
resource "aws_lambda_function_event_invoke_config" "poller" {
  function_name                = aws_lambda_function.poller.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 300
}

resource "aws_cloudwatch_event_rule" "schedule" {
  name                = local.function_name
  description         = "Run the callmcp poller"
  schedule_expression = var.schedule_expression
}

resource "aws_cloudwatch_event_target" "poller" {
  rule = aws_cloudwatch_event_rule.schedule.name
  arn  = aws_lambda_function.poller.arn
  retry_policy {
    maximum_retry_attempts       = 0
    maximum_event_age_in_seconds = 60
  }
  dead_letter_config {
    arn = aws_sqs_queue.failed_invocations.arn
  }
}

resource "aws_lambda_permission" "schedule" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.poller.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule.arn
}
