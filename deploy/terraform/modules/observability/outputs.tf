output "alarm_topic_arn" {
  value = aws_sns_topic.alarms.arn
}

output "log_groups" {
  value = { for key, group in aws_cloudwatch_log_group.this : key => group.name }
}

output "log_group_arns" {
  value = { for key, group in aws_cloudwatch_log_group.this : key => group.arn }
}

output "kms_key_arn" {
  value = aws_kms_key.logs.arn
}

output "dashboard_name" {
  value = aws_cloudwatch_dashboard.this.dashboard_name
}
