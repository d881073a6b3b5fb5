# Run once per account (dev, staging, production), by an administrator, before anything else:
# the Terraform state bucket and lock table, the image repository, and the role GitHub Actions
# assumes through OIDC to deploy. Its own state is local: keep terraform.tfstate safe, or move it
# into the bucket it creates (deploy/README.md, "Bootstrap").

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.60" }
  }
}

provider "aws" {
  region              = var.region
  profile             = var.aws_profile == "" ? null : var.aws_profile
  allowed_account_ids = [var.account_id]
  default_tags {
    tags = { Project = "callmcp", Environment = var.environment, ManagedBy = "terraform" }
  }
}

variable "account_id" {
  type = string
}

variable "environment" {
  description = "dev, staging or production: the GitHub environment allowed to deploy into this account."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "environment must be dev, staging or production."
  }
}

variable "aws_profile" {
  type    = string
  default = ""
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "github_repository" {
  description = "owner/name of the repository whose workflows may deploy."
  type        = string
}

variable "image_source_account_ids" {
  description = "Accounts whose deploy role may pull images from this repository (promotion dev -> staging -> production)."
  type        = list(string)
  default     = []
}

locals {
  state_bucket = "callmcp-tfstate-${var.account_id}"
}

resource "aws_kms_key" "state" {
  #checkov:skip=CKV2_AWS_64:The default key policy (account root) is intended; IAM grants use to the deploy role
  description         = "callmcp Terraform state and images"
  enable_key_rotation = true
}

# --- Terraform state ---------------------------------------------------------------------------------
resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_18:State access is audited by CloudTrail data events; no server access logs needed
  #checkov:skip=CKV_AWS_144:The state is versioned; cross-region replication is not worth a second bucket here
  #checkov:skip=CKV2_AWS_62:No consumer needs events from the state bucket
  #checkov:skip=CKV2_AWS_61:State versions are kept on purpose (lifecycle would delete old states)
  bucket = local.state_bucket
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.state.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_dynamodb_table" "lock" {
  name         = "callmcp-tfstate-lock"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockID"
  attribute {
    name = "LockID"
    type = "S"
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.state.arn
  }
}

# --- Image repository ----------------------------------------------------------------------------------
resource "aws_ecr_repository" "callmcp" {
  name                 = "callmcp"
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.state.arn
  }
}

resource "aws_ecr_lifecycle_policy" "callmcp" {
  repository = aws_ecr_repository.callmcp.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 100 images (rollbacks go back to any of them)"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 100 }
      action       = { type = "expire" }
    }]
  })
}

data "aws_iam_policy_document" "ecr_pull" {
  count = length(var.image_source_account_ids) > 0 ? 1 : 0
  statement {
    sid     = "PromotionPull"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    principals {
      type        = "AWS"
      identifiers = [for id in var.image_source_account_ids : "arn:aws:iam::${id}:role/callmcp-deploy"]
    }
  }
}

resource "aws_ecr_repository_policy" "callmcp" {
  count      = length(var.image_source_account_ids) > 0 ? 1 : 0
  repository = aws_ecr_repository.callmcp.name
  policy     = data.aws_iam_policy_document.ecr_pull[0].json
}

output "state_bucket" {
  value = aws_s3_bucket.state.id
}

output "lock_table" {
  value = aws_dynamodb_table.lock.name
}

output "ecr_repository_url" {
  value = aws_ecr_repository.callmcp.repository_url
}

output "deploy_role_arn" {
  value = aws_iam_role.deploy.arn
}
