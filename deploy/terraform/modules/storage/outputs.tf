output "recordings_bucket" {
  value = aws_s3_bucket.recordings.id
}

output "recordings_bucket_arn" {
  value = aws_s3_bucket.recordings.arn
}

output "static_bucket" {
  value = aws_s3_bucket.static.id
}

output "static_bucket_arn" {
  value = aws_s3_bucket.static.arn
}

output "static_bucket_regional_domain_name" {
  value = aws_s3_bucket.static.bucket_regional_domain_name
}

output "logs_bucket" {
  value = aws_s3_bucket.logs.id
}

output "logs_bucket_domain_name" {
  value = aws_s3_bucket.logs.bucket_domain_name
}
