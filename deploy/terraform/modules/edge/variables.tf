variable "name" {
  type = string
}

variable "vpc_id" {
  type = string
}

variable "public_subnet_ids" {
  type = list(string)
}

variable "alb_security_group_id" {
  type = string
}

variable "certificate_arn" {
  description = "ACM certificate (this region) for the API host name, e.g. api.example.com."
  type        = string
}

variable "static_certificate_arn" {
  description = "ACM certificate in us-east-1 for static_domain (CloudFront)."
  type        = string
}

variable "static_domain" {
  description = "Host name of the static files, e.g. static.example.com."
  type        = string
}

variable "static_bucket" {
  type = string
}

variable "static_bucket_regional_domain_name" {
  type = string
}

variable "logs_bucket" {
  type = string
}

variable "logs_bucket_domain_name" {
  type = string
}

variable "log_kms_key_arn" {
  type = string
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "idle_timeout_seconds" {
  description = "Load balancer idle timeout: above the SSE keepalive (15 s) and WebSocket ping (20 s) with margin."
  type        = number
  default     = 300
}

variable "rate_limit_per_5_minutes" {
  description = "Requests one IP may make in 5 minutes before the WAF blocks it."
  type        = number
  default     = 3000
}

variable "login_rate_limit_per_5_minutes" {
  description = "Token requests (POST /api/v1/auth/token/) one IP may make in 5 minutes."
  type        = number
  default     = 100
}

variable "admin_allowed_cidrs" {
  description = "Networks that may reach /admin/ (staff VPN or office); empty: nobody from outside."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  type    = bool
  default = true
}
