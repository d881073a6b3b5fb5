output "vpc_id" {
  value = aws_vpc.this.id
}

output "public_subnet_ids" {
  value = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  value = aws_subnet.private[*].id
}

output "data_subnet_ids" {
  value = aws_subnet.data[*].id
}

output "security_group_ids" {
  value = {
    alb      = aws_security_group.alb.id
    app      = aws_security_group.app.id
    poller   = aws_security_group.poller.id
    database = aws_security_group.database.id
    redis    = aws_security_group.redis.id
  }
}
