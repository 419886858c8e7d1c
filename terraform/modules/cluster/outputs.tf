output "domain" {
  description = "The cluster's DNS domain, `<cluster_name>.<top_fqdn>`."
  value       = local.domain
}

output "zone_id" {
  description = "ID of the cluster's Route53 hosted zone (private or public)."
  value       = var.public_zone ? aws_route53_zone.public[0].zone_id : aws_route53_zone.private[0].zone_id
}

output "bucket_name" {
  description = "Name of the cluster bucket (same as the domain)."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the cluster bucket."
  value       = aws_s3_bucket.this.arn
}

output "shared_config_key" {
  description = "Key of the Exhibitor shared-config object."
  value       = var.shared_config_key
}

output "shared_config_url" {
  description = "`s3://bucket/key` of the Exhibitor shared config: the value of the `mesos:shared-config` tag."
  value       = local.shared_config_url
}

output "shared_config_object_arn" {
  description = "ARN of the Exhibitor shared-config object, for IAM policies."
  value       = "${aws_s3_bucket.this.arn}/${var.shared_config_key}"
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the bucket and the cluster's log groups."
  value       = aws_kms_key.this.arn
}

output "break_glass_principal_arns" {
  description = "Principals exempt from the bucket's VPC-endpoint rule."
  value       = local.break_glass
}
