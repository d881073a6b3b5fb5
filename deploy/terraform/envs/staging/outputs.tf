output "alb_dns_name" {
  description = "Point api_domain here (an alias or CNAME record)."
  value       = module.edge.alb_dns_name
}

output "static_domain" {
  value = module.edge.static_domain
}

output "ecs_cluster" {
  value = module.app.cluster_name
}

output "oneoff_task_definition" {
  value = module.app.oneoff_task_definition
}

output "private_subnet_ids" {
  value = module.network.private_subnet_ids
}

output "app_security_group_id" {
  value = module.network.security_group_ids["app"]
}

output "parameter_prefix" {
  value = local.prefix
}

output "poller_function_name" {
  value = module.poller.function_name
}

output "dashboard" {
  value = module.observability.dashboard_name
}
