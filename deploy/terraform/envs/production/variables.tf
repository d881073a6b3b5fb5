variable "account_id" {
  description = "This environment's AWS account (its own account: see deploy/README.md)."
  type        = string
}

variable "aws_profile" {
  description = "AWS CLI profile for a person running Terraform; empty in CI (OIDC role credentials)."
  type        = string
  default     = ""
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "dr_region" {
  description = "Region that receives backup copies (disaster recovery)."
  type        = string
  default     = "us-west-2"
}

variable "image_tag" {
  description = "Tag of the image in this account's ECR repository (the git commit; set by deploy.yml)."
  type        = string
}

variable "api_domain" {
  description = "Public host name of the API and MCP endpoint, e.g. api.example.com."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for api_domain, in var.region."
  type        = string
}

variable "static_domain" {
  description = "Host name of the static files (CloudFront), e.g. static.example.com."
  type        = string
}

variable "static_certificate_arn" {
  description = "ACM certificate for static_domain, in us-east-1."
  type        = string
}

variable "admin_allowed_cidrs" {
  description = "Networks allowed to reach /admin/."
  type        = list(string)
  default     = []
}

variable "alarm_emails" {
  type    = list(string)
  default = []
}

variable "sheets_spreadsheet_id" {
  description = "The operations spreadsheet (empty: no Google Sheets call log)."
  type        = string
  default     = ""
}
