variable "name" {
  type = string
}

variable "data_subnet_ids" {
  description = "Isolated subnets (no route out of the VPC)."
  type        = list(string)
}

variable "database_security_group_id" {
  type = string
}

variable "redis_security_group_id" {
  type = string
}

variable "db_instance_class" {
  type    = string
  default = "db.t4g.medium"
}

variable "db_allocated_storage_gb" {
  type    = number
  default = 50
}

variable "db_max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling."
  type        = number
  default     = 500
}

variable "multi_az" {
  description = "A synchronous standby in another AZ with automatic failover (production)."
  type        = bool
}

variable "backup_retention_days" {
  description = "Automated backups and point-in-time recovery window."
  type        = number
  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "Keep automated backups (and PITR) for 7 to 35 days."
  }
}

variable "performance_insights" {
  description = "Performance Insights (not offered on db.t4g.micro/small)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  type    = bool
  default = true
}

variable "redis_node_type" {
  type    = string
  default = "cache.t4g.small"
}

variable "redis_replicas" {
  description = "Replicas besides the primary; 1 or more gives automatic failover across AZs."
  type        = number
  default     = 1
}

variable "backup_copy_vault_arn" {
  description = "An AWS Backup vault in the disaster-recovery region to copy every backup to (empty: none)."
  type        = string
  default     = ""
}

variable "backup_protected_resource_arns" {
  description = "Other resources AWS Backup protects with the same plan (the recordings bucket)."
  type        = list(string)
  default     = []
}

variable "alarm_topic_arn" {
  type = string
}
