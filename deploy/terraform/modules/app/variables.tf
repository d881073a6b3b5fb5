variable "name" {
  type = string
}

variable "environment" {
  type = string
}

variable "image" {
  description = "The container image (ECR URI with tag or digest); one image for every role."
  type        = string
}

variable "private_subnet_ids" {
  type = list(string)
}

variable "app_security_group_id" {
  type = string
}

variable "target_group_arn" {
  type = string
}

variable "request_count_resource_label" {
  type = string
}

variable "log_groups" {
  description = "Log group names by role (observability module)."
  type        = map(string)
}

variable "log_group_arns" {
  type = map(string)
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

variable "data_kms_key_arn" {
  description = "Key of the recordings bucket."
  type        = string
}

variable "recordings_bucket_arn" {
  type = string
}

variable "static_bucket_arn" {
  type = string
}

variable "poller_dead_letter_queue_arn" {
  description = "The poller's dead letters (the Celery beat poll task sends there too)."
  type        = string
}

variable "ecr_repository_arn" {
  type = string
}

variable "environment_variables" {
  description = "Non-secret settings given to every container (secrets come from SSM via AWS_SSM_PREFIX)."
  type        = map(string)
  default     = {}
}

variable "web" {
  type = object({ cpu = number, memory = number, min = number, max = number, cpu_target = number, requests_per_target = number })
}

variable "worker" {
  type = object({ cpu = number, memory = number, min = number, max = number, cpu_target = number, concurrency = number })
}

variable "beat" {
  type    = object({ cpu = number, memory = number })
  default = { cpu = 256, memory = 512 }
}

variable "tracing_enabled" {
  description = "Run the ADOT collector beside each container and export traces to X-Ray."
  type        = bool
  default     = true
}

variable "adot_collector_image" {
  type    = string
  default = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.1"
}

variable "alarm_topic_arn" {
  type = string
}
