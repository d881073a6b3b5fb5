locals {
  lambda_alarms = {
    errors = {
      metric      = "Errors", statistic = "Sum", threshold = 1, periods = 3, datapoints = 2,
      description = "The poller failed in 2 of the last 3 minutes"
    }
    throttles = {
      metric      = "Throttles", statistic = "Sum", threshold = 1, periods = 15, datapoints = 15,
      description = "The poller was throttled every minute for 15 minutes: passes overrun the schedule"
    }
    duration = {
      metric      = "Duration", statistic = "Maximum", threshold = var.timeout_seconds * 1000 * 0.8, periods = 1, datapoints = 1,
      description = "A poller pass came within 20% of the Lambda timeout"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each            = local.lambda_alarms
  alarm_name          = "${var.name}-poller-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.poller.function_name }
  statistic           = each.value.statistic
  period              = 60
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.datapoints
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "queue_depth" {
  for_each = {
    dead-letters       = aws_sqs_queue.dead_letters.name
    failed-invocations = aws_sqs_queue.failed_invocations.name
    archive            = aws_sqs_queue.archive.name
  }
  alarm_name          = "${var.name}-poller-${each.key}-depth"
  alarm_description   = "Messages are waiting in ${each.value}: see deploy/README.md, Dead letters"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

# The application's own metrics (config/metrics.py): the oldest call still in flight, and runs.
resource "aws_cloudwatch_metric_alarm" "lag" {
  alarm_name          = "${var.name}-poller-lag"
  alarm_description   = "A call has been in flight for more than ${var.lag_alarm_seconds} s after a pass"
  namespace           = var.metrics_namespace
  metric_name         = "PollerLagSeconds"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.lag_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "not_running" {
  alarm_name          = "${var.name}-poller-not-running"
  alarm_description   = "No poller pass finished in 15 minutes"
  namespace           = var.metrics_namespace
  metric_name         = "PollerRuns"
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}
