variable "name" {
  type = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the recordings."
  type        = string
}

variable "recordings_expire_days" {
  description = "Recordings are deleted this many days after upload (a retention policy, not a backup)."
  type        = number
  default     = 730
}

variable "log_expire_days" {
  type    = number
  default = 365
}

variable "static_cloudfront_distribution_arn" {
  description = "The CloudFront distribution that may read the static bucket (origin access control); empty until it exists."
  type        = string
  default     = ""
}
