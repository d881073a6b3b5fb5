# dev: the smallest deployment that is still the real topology: one NAT gateway, a single-AZ
# database, no DR copies, deletion protection off so it can be torn down.
locals {
  environment                  = "dev"
  vpc_cidr                     = "10.10.0.0/16"
  az_count                     = 2
  nat_gateway_per_az           = false
  multi_az                     = false
  backup_retention_days        = 7
  backup_copy_to_dr            = false
  deletion_protection          = false
  performance_insights         = false
  db_instance_class            = "db.t4g.micro"
  redis_node_type              = "cache.t4g.micro"
  redis_replicas               = 0
  log_retention_days           = 365
  recordings_expire_days       = 30
  waf_rate_limit_per_5_minutes = 1000
  poller_memory_mb             = 512
  tracing_enabled              = true
  tracing_sample_rate          = "1"
  web                          = { cpu = 256, memory = 512, min = 1, max = 2, cpu_target = 70, requests_per_target = 1000 }
  worker                       = { cpu = 256, memory = 512, min = 1, max = 2, cpu_target = 70, concurrency = 2 }
}
