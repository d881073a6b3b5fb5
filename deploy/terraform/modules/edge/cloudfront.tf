# Static files (Django admin, Swagger UI) from the private static bucket through CloudFront, which
# alone may read it (origin access control). collectstatic uploads them (STATIC_S3_BUCKET).

resource "aws_cloudfront_origin_access_control" "static" {
  name                              = "${var.name}-static"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_response_headers_policy" "static" {
  name = "${var.name}-static"
  security_headers_config {
    content_type_options {
      override = true
    }
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
  }
}

resource "aws_cloudfront_distribution" "static" {
  #checkov:skip=CKV_AWS_310:One origin (the bucket) and nothing to fail over to: the files are rebuilt from the image
  #checkov:skip=CKV_AWS_374:Static assets for every country; no geo restriction
  #checkov:skip=CKV_AWS_305:No root object: the distribution serves /static/ files only
  #checkov:skip=CKV2_AWS_47:Static files only (no Log4j surface); its WAF still has the known-bad-inputs group and a rate rule
  enabled             = true
  comment             = "${var.name} static files"
  aliases             = [var.static_domain]
  price_class         = "PriceClass_100"
  http_version        = "http2and3"
  default_root_object = ""
  web_acl_id          = aws_wafv2_web_acl.static.arn

  origin {
    origin_id                = "static"
    domain_name              = var.static_bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.static.id
  }

  default_cache_behavior {
    target_origin_id           = "static"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = "658327ea-f89d-4fab-a63d-7e88639e58f6" # Managed-CachingOptimized
    response_headers_policy_id = aws_cloudfront_response_headers_policy.static.id
  }

  logging_config {
    bucket = var.logs_bucket_domain_name
    prefix = "cloudfront/"
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = var.static_certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }
}

resource "aws_wafv2_web_acl" "static" {
  provider = aws.us_east_1
  name     = "${var.name}-static"
  scope    = "CLOUDFRONT"
  default_action {
    allow {}
  }
  rule {
    name     = "rate-limit-per-ip"
    priority = 1
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = var.rate_limit_per_5_minutes
        aggregate_key_type = "IP"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "static-rate-limit-per-ip"
      sampled_requests_enabled   = true
    }
  }
  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 10
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "static-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }
  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-static"
    sampled_requests_enabled   = true
  }
}

resource "aws_cloudwatch_log_group" "waf_static" {
  #checkov:skip=CKV_AWS_158:CloudFront's WAF logs must be in us-east-1; the environment's KMS key lives in its own region
  provider          = aws.us_east_1
  name              = "aws-waf-logs-${var.name}-static"
  retention_in_days = var.log_retention_days
}

resource "aws_wafv2_web_acl_logging_configuration" "static" {
  provider                = aws.us_east_1
  resource_arn            = aws_wafv2_web_acl.static.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf_static.arn]
}
