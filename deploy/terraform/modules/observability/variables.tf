variable "name" {
  type = string
}

variable "environment" {
  type = string
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each confirms by e-mail)."
  type        = list(string)
  default     = []
}

variable "metrics_namespace" {
  description = "The application's metrics namespace (METRICS_NAMESPACE, config/metrics.py)."
  type        = string
  default     = "callmcp"
}

variable "poller_function_name" {
  type = string
}

variable "alb_arn_suffix" {
  type = string
}

variable "target_group_arn_suffix" {
  type = string
}

variable "ecs_cluster_name" {
  type = string
}

variable "dead_letter_queue_names" {
  description = "SQS dead-letter queues whose depth the dashboard shows."
  type        = list(string)
}

variable "db_instance_identifier" {
  type = string
}

variable "thresholds" {
  description = "Alarm thresholds."
  type = object({
    p95_latency_seconds     = number
    error_rate_percent      = number
    sheets_quota_percent    = number
    sheets_backlog_age_secs = number
    poller_lag_seconds      = number
    credits_spent_per_hour  = number
  })
  default = {
    p95_latency_seconds     = 2
    error_rate_percent      = 5
    sheets_quota_percent    = 80
    sheets_backlog_age_secs = 300
    poller_lag_seconds      = 900
    credits_spent_per_hour  = 100000
  }
}
