output "kms_key_arn" {
  value = aws_kms_key.config.arn
}

output "parameter_prefix" {
  value = var.parameter_prefix
}

output "parameter_path_arn" {
  description = "ARN pattern of every parameter under the prefix (for IAM)."
  value       = "arn:aws:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter${var.parameter_prefix}"
}
