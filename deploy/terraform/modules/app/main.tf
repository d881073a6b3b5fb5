# ECS Fargate: the web service behind the load balancer, the Celery workers, exactly one beat, and a
# task definition for one-off tasks (migrate, collectstatic). All run the same image; the entrypoint
# role picks the process. Root file systems are read-only (only /tmp is writable), containers run as
# uid 10001, and a failed deployment rolls back by itself.

data "aws_region" "current" {}

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

locals {
  base_environment = merge({
    DJANGO_SETTINGS_MODULE = "config.settings.production"
    CALLMCP_ENVIRONMENT    = var.environment
    AWS_SSM_PREFIX         = var.parameter_prefix
    LOG_FORMAT             = "json"
    METRICS_BACKEND        = "emf"
    TRACING_ENABLED        = var.tracing_enabled ? "true" : "false"
    # The ADOT collector sidecar listens on localhost (OTLP/HTTP) and forwards to X-Ray.
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = "http://localhost:4318/v1/traces"
  }, var.environment_variables)

  roles = {
    web    = { cpu = var.web.cpu, memory = var.web.memory, port = true, extra = tomap({}) }
    worker = { cpu = var.worker.cpu, memory = var.worker.memory, port = false, extra = tomap({ CELERY_CONCURRENCY = tostring(var.worker.concurrency) }) }
    beat   = { cpu = var.beat.cpu, memory = var.beat.memory, port = false, extra = tomap({}) }
    tasks  = { cpu = 512, memory = 1024, port = false, extra = tomap({}) }
  }

  health_check = {
    command     = ["CMD", "/app/deploy/entrypoint.sh", "healthcheck"]
    interval    = 30
    timeout     = 10
    retries     = 3
    startPeriod = 60
  }

  collector = {
    name              = "adot-collector"
    image             = var.adot_collector_image
    essential         = false
    command           = ["--config=/etc/ecs/ecs-default-config.yaml"]
    user              = "10001"
    cpu               = 64
    memoryReservation = 128
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = var.log_groups["tasks"]
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "adot"
      }
    }
  }
}

resource "aws_ecs_task_definition" "this" {
  for_each                 = local.roles
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task[each.key].arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  volume {
    name = "tmp"
  }
  container_definitions = jsonencode(concat([
    merge({
      name                   = "app"
      image                  = var.image
      essential              = true
      command                = [each.key == "tasks" ? "migrate" : each.key]
      user                   = "10001"
      readonlyRootFilesystem = true
      mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
      portMappings           = each.value.port ? [{ containerPort = 8000, protocol = "tcp" }] : []
      environment            = [for key, value in merge(local.base_environment, each.value.extra, { CALLMCP_ROLE = each.key == "tasks" ? "migrate" : each.key }) : { name = key, value = value }]
      stopTimeout            = each.key == "worker" ? 120 : 30 # a worker finishes its task (acks late) before it stops
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = var.log_groups[each.key]
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = each.key
        }
      }
    }, [for check in [local.health_check] : { healthCheck = check } if each.key != "tasks"]...),
  ], var.tracing_enabled ? [local.collector] : []))
}

# --- Services -------------------------------------------------------------------------------------
resource "aws_ecs_service" "web" {
  name                               = "web"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this["web"].arn
  desired_count                      = var.web.min
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  health_check_grace_period_seconds  = 60
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.app_security_group_id]
    assign_public_ip = false
  }
  load_balancer {
    target_group_arn = var.target_group_arn
    container_name   = "app"
    container_port   = 8000
  }
  lifecycle {
    ignore_changes = [desired_count] # auto scaling owns it
  }
}

resource "aws_ecs_service" "worker" {
  name                               = "worker"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this["worker"].arn
  desired_count                      = var.worker.min
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  propagate_tags                     = "SERVICE"
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.app_security_group_id]
    assign_public_ip = false
  }
  lifecycle {
    ignore_changes = [desired_count]
  }
}

# Exactly one beat: a deployment stops the old one before starting the new (0% / 100%).
resource "aws_ecs_service" "beat" {
  name                               = "beat"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this["beat"].arn
  desired_count                      = 1
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100
  propagate_tags                     = "SERVICE"
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.app_security_group_id]
    assign_public_ip = false
  }
}
