locals {
  region = data.aws_region.current.name
  ns     = var.metrics_namespace
  widget = { type = "metric", width = 8, height = 6 }
  widgets = [
    { title = "Requests per minute", metrics = [["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.alb_arn_suffix, { stat = "Sum", period = 60 }]] },
    { title = "Latency p95 (s)", metrics = [["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, "TargetGroup", var.target_group_arn_suffix, { stat = "p95", period = 60 }]] },
    { title = "5xx per minute", metrics = [
      ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { stat = "Sum", period = 60 }],
      ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { stat = "Sum", period = 60 }],
    ] },
    { title = "MCP tool calls per minute", metrics = [[{ expression = "SEARCH('{${local.ns},Tool} MetricName=\"McpToolCalls\"', 'Sum', 60)", id = "tools" }]] },
    { title = "MCP tool errors per minute", metrics = [[{ expression = "SEARCH('{${local.ns},Tool} MetricName=\"McpToolErrors\"', 'Sum', 60)", id = "errors" }]] },
    { title = "Sheets quota used (%)", metrics = [
      [local.ns, "SheetsQuotaUsedPercent", "Kind", "write", { stat = "Maximum", period = 60 }],
      [local.ns, "SheetsQuotaUsedPercent", "Kind", "read", { stat = "Maximum", period = 60 }],
    ] },
    { title = "Sheets backlog", metrics = [
      [local.ns, "SheetsBacklogRows", { stat = "Maximum", period = 60 }],
      [local.ns, "SheetsBacklogAgeSeconds", { stat = "Maximum", period = 60, yAxis = "right" }],
    ] },
    { title = "Poller lag (s) and runs", metrics = [
      [local.ns, "PollerLagSeconds", { stat = "Maximum", period = 60 }],
      [local.ns, "PollerRuns", { stat = "Sum", period = 60, yAxis = "right" }],
    ] },
    { title = "Dead-letter queue depth", metrics = [for queue in var.dead_letter_queue_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue, { stat = "Maximum", period = 60 }]] },
    { title = "Credits spent per hour", metrics = [[local.ns, "CreditsSpent", { stat = "Sum", period = 3600 }], [local.ns, "CallsPlaced", { stat = "Sum", period = 3600, yAxis = "right" }]] },
    { title = "ECS CPU (%)", metrics = [for service in ["web", "worker", "beat"] : ["AWS/ECS", "CPUUtilization", "ClusterName", var.ecs_cluster_name, "ServiceName", service, { stat = "Average", period = 60 }]] },
    { title = "Database", metrics = [
      ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", var.db_instance_identifier, { stat = "Average", period = 60 }],
      ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", var.db_instance_identifier, { stat = "Maximum", period = 60, yAxis = "right" }],
    ] },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [for index, item in local.widgets : merge(local.widget, {
      x = (index % 3) * 8
      y = floor(index / 3) * 6
      properties = {
        title   = item.title
        metrics = item.metrics
        region  = local.region
        view    = "timeSeries"
        stacked = false
      }
    })]
  })
}
