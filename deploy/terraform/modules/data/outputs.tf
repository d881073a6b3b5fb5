output "kms_key_arn" {
  value = aws_kms_key.data.arn
}

output "database_url" {
  value     = "postgres://callmcp:${random_password.database.result}@${aws_db_instance.this.address}:5432/callmcp?sslmode=require"
  sensitive = true
}

output "redis_url" {
  value     = "rediss://:${random_password.redis.result}@${aws_elasticache_replication_group.this.primary_endpoint_address}:6379/0?ssl_cert_reqs=required"
  sensitive = true
}

output "db_instance_identifier" {
  value = aws_db_instance.this.identifier
}

output "backup_vault_name" {
  value = aws_backup_vault.this.name
}
