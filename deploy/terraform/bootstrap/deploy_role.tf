# The deploy role, assumed by GitHub Actions through OIDC, only from this repository's workflows
# running in this account's GitHub environment (which has required reviewers for production).
# It applies Terraform, so it manages infrastructure services broadly, but never with wildcard
# actions on the data services (S3, DynamoDB, RDS, ElastiCache, SSM parameters, SQS, KMS): those are
# listed action by action, and S3/DynamoDB are limited to callmcp's own resources.

resource "aws_iam_openid_connect_provider" "github" {
  url             = "https://token.actions.githubusercontent.com"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
}

data "aws_iam_policy_document" "deploy_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${var.environment}"]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "callmcp-deploy"
  assume_role_policy   = data.aws_iam_policy_document.deploy_assume.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "deploy" {
  #checkov:skip=CKV_AWS_109:Terraform must manage the account's IAM roles and policies for the workloads
  #checkov:skip=CKV_AWS_110:Terraform creates the workload roles; privilege escalation is bounded by the OIDC trust and the GitHub environment's reviewers
  #checkov:skip=CKV_AWS_111:Infrastructure services are managed whole; data services are listed action by action
  #checkov:skip=CKV_AWS_356:Infrastructure resources are created by Terraform and cannot be named in advance
  #checkov:skip=CKV2_AWS_40:Full IAM access is needed to manage the workload roles
  #checkov:skip=CKV_AWS_107:The deploy role pushes images (ecr:GetAuthorizationToken) and manages the workload roles
  #checkov:skip=CKV_AWS_108:The deploy role reads the SSM parameters and objects Terraform manages
  statement {
    sid = "Infrastructure"
    actions = [
      "ec2:*", "ecs:*", "elasticloadbalancing:*", "application-autoscaling:*", "lambda:*", "events:*",
      "cloudwatch:*", "logs:*", "wafv2:*", "cloudfront:*", "xray:*", "sns:*", "backup:*", "backup-storage:*",
      "iam:*", "acm:DescribeCertificate", "acm:ListCertificates", "ecr:*", "tag:GetResources",
    ]
    resources = ["*"]
  }
  statement {
    sid = "DataServices"
    actions = [
      "rds:CreateDBInstance", "rds:ModifyDBInstance", "rds:DeleteDBInstance", "rds:Describe*", "rds:ListTagsForResource",
      "rds:AddTagsToResource", "rds:RemoveTagsFromResource", "rds:CreateDBSubnetGroup", "rds:ModifyDBSubnetGroup",
      "rds:DeleteDBSubnetGroup", "rds:CreateDBParameterGroup", "rds:ModifyDBParameterGroup", "rds:DeleteDBParameterGroup",
      "rds:RebootDBInstance", "rds:CreateDBSnapshot",
      "elasticache:CreateReplicationGroup", "elasticache:ModifyReplicationGroup", "elasticache:DeleteReplicationGroup",
      "elasticache:CreateCacheSubnetGroup", "elasticache:ModifyCacheSubnetGroup", "elasticache:DeleteCacheSubnetGroup",
      "elasticache:Describe*", "elasticache:ListTagsForResource", "elasticache:AddTagsToResource",
      "elasticache:RemoveTagsFromResource",
      "ssm:PutParameter", "ssm:GetParameter", "ssm:GetParameters", "ssm:DeleteParameter", "ssm:DescribeParameters",
      "ssm:AddTagsToResource", "ssm:ListTagsForResource", "ssm:RemoveTagsFromResource",
      "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:GetQueueUrl",
      "sqs:TagQueue", "sqs:UntagQueue", "sqs:ListQueueTags",
      "kms:CreateKey", "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias", "kms:DescribeKey", "kms:GetKeyPolicy",
      "kms:PutKeyPolicy", "kms:GetKeyRotationStatus", "kms:EnableKeyRotation", "kms:ListResourceTags", "kms:TagResource",
      "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:ListAliases", "kms:CreateGrant", "kms:Decrypt", "kms:Encrypt",
      "kms:GenerateDataKey",
    ]
    resources = ["*"]
  }
  statement {
    sid = "CallmcpBuckets"
    actions = [
      "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucket*", "s3:PutBucket*", "s3:DeleteBucketPolicy",
      "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:GetEncryptionConfiguration",
      "s3:PutEncryptionConfiguration", "s3:GetAccelerateConfiguration", "s3:GetReplicationConfiguration",
      "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion",
    ]
    resources = ["arn:aws:s3:::callmcp-*", "arn:aws:s3:::callmcp-*/*"]
  }
  statement {
    sid       = "StateLock"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable"]
    resources = [aws_dynamodb_table.lock.arn]
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}
