# One environment: everything callmcp needs in its own AWS account. The three roots (dev, staging,
# production) are the same composition; settings.tf holds what differs between them.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws    = { source = "hashicorp/aws", version = "~> 5.60" }
    random = { source = "hashicorp/random", version = "~> 3.6" }
  }
  # Remote state in the account's own bucket with DynamoDB locking (created by ../../bootstrap):
  #   terraform init -backend-config=backend.hcl -backend-config="bucket=callmcp-tfstate-ACCOUNT_ID"
  backend "s3" {}
}

provider "aws" {
  region              = var.region
  profile             = var.aws_profile == "" ? null : var.aws_profile
  allowed_account_ids = [var.account_id] # a wrong profile cannot touch another environment
  default_tags {
    tags = { Project = "callmcp", Environment = local.environment, ManagedBy = "terraform" }
  }
}

provider "aws" {
  alias               = "us_east_1" # CloudFront's WAF
  region              = "us-east-1"
  profile             = var.aws_profile == "" ? null : var.aws_profile
  allowed_account_ids = [var.account_id]
  default_tags {
    tags = { Project = "callmcp", Environment = local.environment, ManagedBy = "terraform" }
  }
}

provider "aws" {
  alias               = "dr" # disaster-recovery region: backup copies
  region              = var.dr_region
  profile             = var.aws_profile == "" ? null : var.aws_profile
  allowed_account_ids = [var.account_id]
  default_tags {
    tags = { Project = "callmcp", Environment = local.environment, ManagedBy = "terraform" }
  }
}

locals {
  name   = "callmcp-${local.environment}"
  prefix = "/callmcp/${local.environment}"
  image  = "${var.account_id}.dkr.ecr.${var.region}.amazonaws.com/callmcp:${var.image_tag}"
  # Settings every process reads besides the secrets (SSM String parameters under the prefix).
  settings = {
    ALLOWED_HOSTS         = var.api_domain
    CSRF_TRUSTED_ORIGINS  = "https://${var.api_domain}"
    PUBLIC_BASE_URL       = "https://${var.api_domain}"
    RECORDINGS_S3_BUCKET  = module.storage.recordings_bucket
    STATIC_S3_BUCKET      = module.storage.static_bucket
    STATIC_URL            = "https://${module.edge.static_domain}/static/"
    POLLER_DLQ_URL        = module.poller.dead_letter_queue_url
    SHEETS_SPREADSHEET_ID = var.sheets_spreadsheet_id
  }
}

module "network" {
  source             = "../../modules/network"
  name               = local.name
  cidr               = local.vpc_cidr
  az_count           = local.az_count
  nat_gateway_per_az = local.nat_gateway_per_az
  kms_key_arn        = module.observability.kms_key_arn
}

module "observability" {
  source                  = "../../modules/observability"
  name                    = local.name
  environment             = local.environment
  log_retention_days      = local.log_retention_days
  alarm_emails            = var.alarm_emails
  poller_function_name    = "${local.name}-poller"
  alb_arn_suffix          = module.edge.alb_arn_suffix
  target_group_arn_suffix = module.edge.target_group_arn_suffix
  ecs_cluster_name        = local.name
  dead_letter_queue_names = module.poller.queue_names
  db_instance_identifier  = module.data.db_instance_identifier
}

module "storage" {
  source                             = "../../modules/storage"
  name                               = local.name
  kms_key_arn                        = module.data.kms_key_arn
  recordings_expire_days             = local.recordings_expire_days
  static_cloudfront_distribution_arn = module.edge.static_distribution_arn
}

module "data" {
  source                         = "../../modules/data"
  name                           = local.name
  data_subnet_ids                = module.network.data_subnet_ids
  database_security_group_id     = module.network.security_group_ids["database"]
  redis_security_group_id        = module.network.security_group_ids["redis"]
  db_instance_class              = local.db_instance_class
  performance_insights           = local.performance_insights
  multi_az                       = local.multi_az
  backup_retention_days          = local.backup_retention_days
  deletion_protection            = local.deletion_protection
  redis_node_type                = local.redis_node_type
  redis_replicas                 = local.redis_replicas
  backup_copy_vault_arn          = local.backup_copy_to_dr ? aws_backup_vault.dr[0].arn : ""
  backup_protected_resource_arns = [module.storage.recordings_bucket_arn]
  alarm_topic_arn                = module.observability.alarm_topic_arn
}

module "config" {
  source           = "../../modules/config"
  name             = local.name
  parameter_prefix = local.prefix
  database_url     = module.data.database_url
  redis_url        = module.data.redis_url
  settings         = local.settings
}

module "edge" {
  source = "../../modules/edge"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }
  name                               = local.name
  vpc_id                             = module.network.vpc_id
  public_subnet_ids                  = module.network.public_subnet_ids
  alb_security_group_id              = module.network.security_group_ids["alb"]
  certificate_arn                    = var.certificate_arn
  static_certificate_arn             = var.static_certificate_arn
  static_domain                      = var.static_domain
  static_bucket                      = module.storage.static_bucket
  static_bucket_regional_domain_name = module.storage.static_bucket_regional_domain_name
  logs_bucket                        = module.storage.logs_bucket
  logs_bucket_domain_name            = module.storage.logs_bucket_domain_name
  log_kms_key_arn                    = module.observability.kms_key_arn
  log_retention_days                 = local.log_retention_days
  rate_limit_per_5_minutes           = local.waf_rate_limit_per_5_minutes
  admin_allowed_cidrs                = var.admin_allowed_cidrs
  deletion_protection                = local.deletion_protection
}

module "app" {
  source                       = "../../modules/app"
  name                         = local.name
  environment                  = local.environment
  image                        = local.image
  private_subnet_ids           = module.network.private_subnet_ids
  app_security_group_id        = module.network.security_group_ids["app"]
  target_group_arn             = module.edge.target_group_arn
  request_count_resource_label = module.edge.request_count_resource_label
  log_groups                   = module.observability.log_groups
  log_group_arns               = module.observability.log_group_arns
  parameter_prefix             = local.prefix
  parameter_path_arn           = module.config.parameter_path_arn
  config_kms_key_arn           = module.config.kms_key_arn
  data_kms_key_arn             = module.data.kms_key_arn
  recordings_bucket_arn        = module.storage.recordings_bucket_arn
  static_bucket_arn            = module.storage.static_bucket_arn
  poller_dead_letter_queue_arn = module.poller.dead_letter_queue_arn
  ecr_repository_arn           = "arn:aws:ecr:${var.region}:${var.account_id}:repository/callmcp"
  web                          = local.web
  worker                       = local.worker
  tracing_enabled              = local.tracing_enabled
  environment_variables        = { TRACING_SAMPLE_RATE = local.tracing_sample_rate }
  alarm_topic_arn              = module.observability.alarm_topic_arn
  # The listener rules must exist before the web service registers with the target group.
  depends_on = [module.edge]
}

module "poller" {
  source                   = "../../modules/poller"
  name                     = local.name
  environment              = local.environment
  image                    = local.image
  memory_mb                = local.poller_memory_mb
  private_subnet_ids       = module.network.private_subnet_ids
  poller_security_group_id = module.network.security_group_ids["poller"]
  parameter_prefix         = local.prefix
  parameter_path_arn       = module.config.parameter_path_arn
  config_kms_key_arn       = module.config.kms_key_arn
  queue_kms_key_arn        = module.observability.kms_key_arn
  data_kms_key_arn         = module.data.kms_key_arn
  recordings_bucket_arn    = module.storage.recordings_bucket_arn
  log_group_arn            = module.observability.log_group_arns["poller"]
  alarm_topic_arn          = module.observability.alarm_topic_arn
}

# --- Disaster recovery: a backup vault in another region receives a copy of every backup --------------
resource "aws_kms_key" "dr" {
  #checkov:skip=CKV2_AWS_64:The default key policy (account root) is intended for this backup-copy key
  count               = local.backup_copy_to_dr ? 1 : 0
  provider            = aws.dr
  description         = "${local.name}: backup copies in the DR region"
  enable_key_rotation = true
}

resource "aws_backup_vault" "dr" {
  count       = local.backup_copy_to_dr ? 1 : 0
  provider    = aws.dr
  name        = "${local.name}-dr"
  kms_key_arn = aws_kms_key.dr[0].arn
}
