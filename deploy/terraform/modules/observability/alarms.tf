# Service-level alarms (the poller's own alarms live with the poller, the database's with the data).

resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "${var.name}-5xx-rate"
  alarm_description   = "More than ${var.thresholds.error_rate_percent}% of requests answered 5xx"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.error_rate_percent
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * (FILL(errors_target, 0) + FILL(errors_elb, 0)) / requests, 0)"
    label       = "5xx %"
    return_data = true
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }
  metric_query {
    id = "errors_target"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }
  metric_query {
    id = "errors_elb"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "latency_p95" {
  alarm_name          = "${var.name}-p95-latency"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.target_group_arn_suffix }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.p95_latency_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "sheets_quota" {
  alarm_name          = "${var.name}-sheets-write-quota"
  alarm_description   = "Google Sheets writes above ${var.thresholds.sheets_quota_percent}% of the per-minute quota"
  namespace           = var.metrics_namespace
  metric_name         = "SheetsQuotaUsedPercent"
  dimensions          = { Kind = "write" }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.sheets_quota_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "sheets_backlog_age" {
  alarm_name          = "${var.name}-sheets-backlog-age"
  alarm_description   = "Call rows have waited more than ${var.thresholds.sheets_backlog_age_secs} s for Google Sheets"
  namespace           = var.metrics_namespace
  metric_name         = "SheetsBacklogAgeSeconds"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.sheets_backlog_age_secs
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "sheets_breaker" {
  alarm_name          = "${var.name}-sheets-breaker-open"
  alarm_description   = "The Google Sheets circuit breaker has been open for 10 minutes"
  namespace           = var.metrics_namespace
  metric_name         = "SheetsBreakerOpen"
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "credit_spend" {
  alarm_name          = "${var.name}-credit-spend"
  alarm_description   = "More than ${var.thresholds.credits_spent_per_hour} credits charged in an hour"
  namespace           = var.metrics_namespace
  metric_name         = "CreditsSpent"
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.credits_spent_per_hour
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}
