output "cluster_name" {
  value = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  value = aws_ecs_cluster.this.arn
}

output "oneoff_task_definition" {
  description = "Family of the one-off task (migrate by default; override the command for collectstatic)."
  value       = aws_ecs_task_definition.this["tasks"].family
}

output "task_role_arns" {
  value = { for key, role in aws_iam_role.task : key => role.arn }
}

output "execution_role_arn" {
  value = aws_iam_role.execution.arn
}
