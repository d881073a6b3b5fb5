# One security group per hop; rules are separate resources so each names its peer.

resource "aws_security_group" "alb" {
  #checkov:skip=CKV2_AWS_5:Attached in the edge module (load balancer), which checkov cannot follow across modules
  name        = "${var.name}-alb"
  description = "Internet-facing load balancer: HTTPS in, web tasks out"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from the internet (WAF in front)"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:Port 80 only answers a 301 to HTTPS (the HTTP listener has no other action)
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from the internet, answered only with a redirect to HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 80
  to_port           = 80
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_web" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the web tasks"
  referenced_security_group_id = aws_security_group.app.id
  from_port                    = 8000
  to_port                      = 8000
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "app" {
  #checkov:skip=CKV2_AWS_5:Attached in the app module (ECS services), which checkov cannot follow across modules
  name        = "${var.name}-app"
  description = "ECS tasks: web, worker, beat"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "web_from_alb" {
  security_group_id            = aws_security_group.app.id
  description                  = "uvicorn from the load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  from_port                    = 8000
  to_port                      = 8000
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "poller" {
  #checkov:skip=CKV2_AWS_5:Attached in the poller module (Lambda), which checkov cannot follow across modules
  name        = "${var.name}-poller"
  description = "The poller Lambda: no inbound traffic"
  vpc_id      = aws_vpc.this.id
}

# Tasks and the poller reach: the data tier, the endpoints, and HTTPS on the internet (Bland, Google).
resource "aws_vpc_security_group_egress_rule" "workload_https" {
  for_each          = { app = aws_security_group.app.id, poller = aws_security_group.poller.id }
  security_group_id = each.value
  description       = "HTTPS: Bland AI, Google Sheets, AWS endpoints"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "workload_postgres" {
  for_each                     = { app = aws_security_group.app.id, poller = aws_security_group.poller.id }
  security_group_id            = each.value
  description                  = "PostgreSQL"
  referenced_security_group_id = aws_security_group.database.id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "workload_redis" {
  for_each                     = { app = aws_security_group.app.id, poller = aws_security_group.poller.id }
  security_group_id            = each.value
  description                  = "Redis"
  referenced_security_group_id = aws_security_group.redis.id
  from_port                    = 6379
  to_port                      = 6379
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "database" {
  #checkov:skip=CKV2_AWS_5:Attached in the data module (RDS), which checkov cannot follow across modules
  name        = "${var.name}-database"
  description = "RDS PostgreSQL: only from the workloads"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "database" {
  for_each                     = { app = aws_security_group.app.id, poller = aws_security_group.poller.id }
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from ${each.key}"
  referenced_security_group_id = each.value
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "redis" {
  #checkov:skip=CKV2_AWS_5:Attached in the data module (ElastiCache), which checkov cannot follow across modules
  name        = "${var.name}-redis"
  description = "ElastiCache Redis: only from the workloads"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "redis" {
  for_each                     = { app = aws_security_group.app.id, poller = aws_security_group.poller.id }
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from ${each.key}"
  referenced_security_group_id = each.value
  from_port                    = 6379
  to_port                      = 6379
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-endpoints"
  description = "Interface VPC endpoints: HTTPS from inside the VPC"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "endpoints" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from the VPC"
  cidr_ipv4         = var.cidr
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}
