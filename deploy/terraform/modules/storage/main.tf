# Three private buckets: recordings (presigned access only), static files (read by CloudFront only)
# and access logs. All block public access, deny plain HTTP, and are versioned.

data "aws_caller_identity" "current" {}

locals {
  buckets = {
    recordings = "${var.name}-recordings-${data.aws_caller_identity.current.account_id}"
    static     = "${var.name}-static-${data.aws_caller_identity.current.account_id}"
    logs       = "${var.name}-logs-${data.aws_caller_identity.current.account_id}"
  }
}

# --- Access logs (S3 server access logs, ALB and CloudFront logs) --------------------------------
resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log target; logging it into itself would loop
  #checkov:skip=CKV_AWS_144:Access logs are not replicated; they are kept in-region for audit only
  #checkov:skip=CKV_AWS_145:The ALB can only write access logs to SSE-S3 buckets, not SSE-KMS
  #checkov:skip=CKV2_AWS_62:No consumer needs events from the log bucket
  bucket = local.buckets.logs
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  #checkov:skip=CKV2_AWS_65:CloudFront standard logging writes with ACLs; only this log bucket allows them
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerPreferred" # CloudFront standard logs need ACLs
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_expire_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_elb_service_account" "current" {}

data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "DenyPlainHttp"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
  statement {
    sid       = "AlbAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/alb/*"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.current.arn]
    }
  }
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/s3/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = data.aws_iam_policy_document.logs.json
}

# --- Recordings -------------------------------------------------------------------------------------
resource "aws_s3_bucket" "recordings" {
  #checkov:skip=CKV_AWS_144:Disaster recovery copies recordings with AWS Backup to the DR region (data module), not replication
  #checkov:skip=CKV2_AWS_62:No consumer needs object events; the app writes and presigns itself
  bucket = local.buckets.recordings
}

resource "aws_s3_bucket_ownership_controls" "recordings" {
  bucket = aws_s3_bucket.recordings.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "recordings" {
  bucket = aws_s3_bucket.recordings.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "recordings" {
  bucket = aws_s3_bucket.recordings.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "recordings" {
  bucket = aws_s3_bucket.recordings.id
  rule {
    id     = "tiering-and-retention"
    status = "Enabled"
    filter {}
    # Cheaper tiers as recordings age (S3 wants every transition before the expiry).
    dynamic "transition" {
      for_each = [for tier in [{ days = 30, class = "STANDARD_IA" }, { days = 90, class = "GLACIER_IR" }] : tier if tier.days < var.recordings_expire_days]
      content {
        days          = transition.value.days
        storage_class = transition.value.class
      }
    }
    expiration {
      days = var.recordings_expire_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_logging" "recordings" {
  bucket        = aws_s3_bucket.recordings.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/recordings/"
}

data "aws_iam_policy_document" "recordings" {
  statement {
    sid       = "DenyPlainHttp"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.recordings.arn, "${aws_s3_bucket.recordings.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "recordings" {
  bucket = aws_s3_bucket.recordings.id
  policy = data.aws_iam_policy_document.recordings.json
}

# --- Static files (admin, Swagger UI), served by CloudFront -----------------------------------------
resource "aws_s3_bucket" "static" {
  #checkov:skip=CKV_AWS_144:Static files are rebuilt from the image by collectstatic; nothing to replicate
  #checkov:skip=CKV_AWS_145:Public assets; SSE-S3 keeps CloudFront origin access simple and they are not secret
  #checkov:skip=CKV2_AWS_62:No consumer needs object events
  bucket = local.buckets.static
}

resource "aws_s3_bucket_ownership_controls" "static" {
  bucket = aws_s3_bucket.static.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "static" {
  bucket = aws_s3_bucket.static.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "static" {
  bucket = aws_s3_bucket.static.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "static" {
  bucket = aws_s3_bucket.static.id
  rule {
    id     = "old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_logging" "static" {
  bucket        = aws_s3_bucket.static.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/static/"
}

data "aws_iam_policy_document" "static" {
  statement {
    sid       = "DenyPlainHttp"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.static.arn, "${aws_s3_bucket.static.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
  dynamic "statement" {
    for_each = var.static_cloudfront_distribution_arn == "" ? [] : [1]
    content {
      sid       = "CloudFrontReads"
      actions   = ["s3:GetObject"]
      resources = ["${aws_s3_bucket.static.arn}/*"]
      principals {
        type        = "Service"
        identifiers = ["cloudfront.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "AWS:SourceArn"
        values   = [var.static_cloudfront_distribution_arn]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "static" {
  bucket = aws_s3_bucket.static.id
  policy = data.aws_iam_policy_document.static.json
}

# --- No public access, ever -------------------------------------------------------------------------
resource "aws_s3_bucket_public_access_block" "this" {
  for_each                = { recordings = aws_s3_bucket.recordings.id, static = aws_s3_bucket.static.id, logs = aws_s3_bucket.logs.id }
  bucket                  = each.value
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}
