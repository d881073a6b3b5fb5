# The poller's role: its settings, its queues, its log group, recordings, VPC network interfaces and
# trace upload. Nothing else.

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "poller" {
  name               = "${var.name}-poller"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "poller" {
  #checkov:skip=CKV_AWS_111:Only the Lambda VPC network-interface actions and X-Ray writes use "*": they have no resource-level permissions
  #checkov:skip=CKV_AWS_356:Only the Lambda VPC network-interface actions and X-Ray writes use "*": they have no resource-level permissions
  statement {
    sid       = "ReadSettings"
    actions   = ["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"]
    resources = [var.parameter_path_arn, "${var.parameter_path_arn}/*"]
  }
  statement {
    sid       = "DecryptSettingsAndQueues"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.config_kms_key_arn, var.queue_kms_key_arn, var.data_kms_key_arn]
  }
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.dead_letters.arn, aws_sqs_queue.failed_invocations.arn]
  }
  statement {
    sid       = "Recordings"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.recordings_bucket_arn}/recordings/*"]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arn}:*"]
  }
  statement {
    sid       = "VpcNetworkInterfaces"
    actions   = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
    resources = ["*"] # Lambda's VPC attachment: these EC2 actions have no resource-level scoping for this use
  }
  statement {
    sid       = "Traces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray's write actions have no resource-level permissions
  }
}

resource "aws_iam_role_policy" "poller" {
  name   = "poller-least-privilege"
  role   = aws_iam_role.poller.id
  policy = data.aws_iam_policy_document.poller.json
}
