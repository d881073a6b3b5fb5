# Production: three AZs, Multi-AZ database and cache, DR copies, 35 days of point-in-time recovery.
locals {
  environment                  = "production"
  vpc_cidr                     = "10.30.0.0/16"
  az_count                     = 3
  nat_gateway_per_az           = true
  multi_az                     = true
  backup_retention_days        = 35
  backup_copy_to_dr            = true
  deletion_protection          = true
  performance_insights         = true
  db_instance_class            = "db.r7g.large"
  redis_node_type              = "cache.r7g.large"
  redis_replicas               = 2
  log_retention_days           = 365
  recordings_expire_days       = 730
  waf_rate_limit_per_5_minutes = 3000
  poller_memory_mb             = 1024
  tracing_enabled              = true
  tracing_sample_rate          = "0.05"
  web                          = { cpu = 1024, memory = 2048, min = 3, max = 20, cpu_target = 60, requests_per_target = 1000 }
  worker                       = { cpu = 1024, memory = 2048, min = 2, max = 10, cpu_target = 70, concurrency = 4 }
}
