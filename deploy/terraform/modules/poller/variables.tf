variable "name" {
  type = string
}

variable "environment" {
  type = string
}

variable "image" {
  description = "The same container image as the ECS services; the poller role runs deploy/lambda/handler.py."
  type        = string
}

variable "memory_mb" {
  description = "Lambda memory (CPU grows with it): the pass holds one batch of calls at a time."
  type        = number
  default     = 1024
}

variable "timeout_seconds" {
  description = "Lambda's maximum; the pass budgets itself to POLLER_MAX_SECONDS (300) within it."
  type        = number
  default     = 900
}

variable "schedule_expression" {
  type    = string
  default = "rate(1 minute)"
}

variable "private_subnet_ids" {
  type = list(string)
}

variable "poller_security_group_id" {
  type = string
}

variable "parameter_prefix" {
  type = string
}

variable "parameter_path_arn" {
  type = string
}

variable "config_kms_key_arn" {
  type = string
}

variable "queue_kms_key_arn" {
  type = string
}

variable "data_kms_key_arn" {
  type = string
}

variable "recordings_bucket_arn" {
  type = string
}

variable "log_group_arn" {
  type = string
}

variable "environment_variables" {
  type    = map(string)
  default = {}
}

variable "alarm_topic_arn" {
  type = string
}

variable "lag_alarm_seconds" {
  type    = number
  default = 900
}

variable "metrics_namespace" {
  type    = string
  default = "callmcp"
}
