# The API's front door: an ALB that routes only the service's paths to the web tasks. Everything
# else is a JSON 404 from the load balancer itself. Sessions live in Redis, so no stickiness.

resource "aws_lb" "this" {
  name                       = substr(var.name, 0, 32)
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [var.alb_security_group_id]
  idle_timeout               = var.idle_timeout_seconds
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  desync_mitigation_mode     = "strictest"
  access_logs {
    bucket  = var.logs_bucket
    prefix  = "alb"
    enabled = true
  }
}

resource "aws_lb_target_group" "web" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; the hop to the tasks stays inside the VPC's private subnets
  name                 = substr("${var.name}-web", 0, 32)
  vpc_id               = var.vpc_id
  port                 = 8000
  protocol             = "HTTP"
  target_type          = "ip"
  deregistration_delay = 60
  health_check {
    path                = "/readyz" # database and Redis reachable
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
  stickiness {
    type    = "lb_cookie"
    enabled = false
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      status_code  = "404"
      message_body = "{\"error\": {\"code\": \"not_found\", \"message\": \"No such path.\"}}"
    }
  }
}

locals {
  # The service's public paths: REST + MCP over HTTP, MCP over WebSocket, OAuth metadata, probes,
  # the landing page. /admin/ is routed separately (restricted by the WAF to admin_allowed_cidrs).
  routes = {
    api   = { priority = 10, paths = ["/api/*"] }
    mcp   = { priority = 20, paths = ["/mcp", "/mcp/*"] }
    wk    = { priority = 30, paths = ["/.well-known/*"] }
    probe = { priority = 40, paths = ["/healthz", "/readyz", "/"] }
    admin = { priority = 50, paths = ["/admin", "/admin/*"] }
  }
}

resource "aws_lb_listener_rule" "web" {
  for_each     = local.routes
  listener_arn = aws_lb_listener.https.arn
  priority     = each.value.priority
  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }
  condition {
    path_pattern {
      values = each.value.paths
    }
  }
}
