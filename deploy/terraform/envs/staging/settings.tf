# Staging: production's shape (Multi-AZ, DR copies) at a smaller size, so a release is proven on the
# same topology before it reaches production.
locals {
  environment                  = "staging"
  vpc_cidr                     = "10.20.0.0/16"
  az_count                     = 2
  nat_gateway_per_az           = true
  multi_az                     = true
  backup_retention_days        = 14
  backup_copy_to_dr            = true
  deletion_protection          = true
  performance_insights         = true
  db_instance_class            = "db.t4g.medium"
  redis_node_type              = "cache.t4g.small"
  redis_replicas               = 1
  log_retention_days           = 365
  recordings_expire_days       = 90
  waf_rate_limit_per_5_minutes = 3000
  poller_memory_mb             = 1024
  tracing_enabled              = true
  tracing_sample_rate          = "0.2"
  web                          = { cpu = 512, memory = 1024, min = 2, max = 6, cpu_target = 60, requests_per_target = 1000 }
  worker                       = { cpu = 512, memory = 1024, min = 1, max = 4, cpu_target = 70, concurrency = 2 }
}
