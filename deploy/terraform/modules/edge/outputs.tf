output "alb_arn" {
  value = aws_lb.this.arn
}

output "alb_arn_suffix" {
  value = aws_lb.this.arn_suffix
}

output "alb_dns_name" {
  value = aws_lb.this.dns_name
}

output "alb_zone_id" {
  value = aws_lb.this.zone_id
}

output "target_group_arn" {
  value = aws_lb_target_group.web.arn
}

output "target_group_arn_suffix" {
  value = aws_lb_target_group.web.arn_suffix
}

output "request_count_resource_label" {
  description = "For ALBRequestCountPerTarget auto scaling."
  value       = "${aws_lb.this.arn_suffix}/${aws_lb_target_group.web.arn_suffix}"
}

output "static_distribution_arn" {
  value = aws_cloudfront_distribution.static.arn
}

output "static_domain" {
  value = var.static_domain
}

output "https_listener_arn" {
  value = aws_lb_listener.https.arn
}
