variable "name" {
  description = "Name prefix of every resource, e.g. callmcp-production."
  type        = string
}

variable "cidr" {
  description = "The VPC's address range; each environment gets its own, so they could be peered later."
  type        = string
}

variable "az_count" {
  description = "Availability zones to spread subnets over (2 or more)."
  type        = number
  default     = 2
  validation {
    condition     = var.az_count >= 2
    error_message = "Use at least 2 availability zones: RDS Multi-AZ and the ALB need two."
  }
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per AZ (production: an AZ outage keeps egress) or a single shared one (cheaper)."
  type        = bool
  default     = true
}

variable "flow_log_retention_days" {
  type    = number
  default = 365
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the flow-log group."
  type        = string
}
