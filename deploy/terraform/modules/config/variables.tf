variable "name" {
  type = string
}

variable "parameter_prefix" {
  description = "SSM path of this environment's settings, e.g. /callmcp/production (the app's AWS_SSM_PREFIX)."
  type        = string
}

variable "database_url" {
  description = "postgres:// URL of the RDS instance, with its generated password (from the data module)."
  type        = string
  sensitive   = true
}

variable "redis_url" {
  description = "rediss:// URL of ElastiCache, with its auth token (from the data module)."
  type        = string
  sensitive   = true
}

variable "settings" {
  description = "Plain (non-secret) settings stored as String parameters: ALLOWED_HOSTS, PUBLIC_BASE_URL, ..."
  type        = map(string)
  default     = {}
}
