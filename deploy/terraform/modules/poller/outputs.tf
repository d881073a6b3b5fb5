output "function_name" {
  value = aws_lambda_function.poller.function_name
}

output "dead_letter_queue_arn" {
  value = aws_sqs_queue.dead_letters.arn
}

output "dead_letter_queue_url" {
  value = aws_sqs_queue.dead_letters.url
}

output "queue_names" {
  value = [aws_sqs_queue.dead_letters.name, aws_sqs_queue.failed_invocations.name, aws_sqs_queue.archive.name]
}

output "role_arn" {
  value = aws_iam_role.poller.arn
}
