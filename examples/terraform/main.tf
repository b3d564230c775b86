# Coffer's access, keys, secrets and parameters as Terraform code, with the
# hashicorp/aws provider pointed at Coffer. See README.md beside this file.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "coffer_endpoint" {
  description = "Coffer's URL, e.g. http://127.0.0.1:4599"
  type        = string
}

variable "oidc_issuer" {
  description = "The URL of the OIDC issuer whose tokens the app role accepts (a Kubernetes cluster, a CI system)"
  type        = string
  default     = "https://token.actions.githubusercontent.com"
}

provider "aws" {
  region = "us-east-1"

  # Coffer is not AWS: no account lookup, no metadata service, no region list.
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    iam            = var.coffer_endpoint
    sts            = var.coffer_endpoint
    kms            = var.coffer_endpoint
    secretsmanager = var.coffer_endpoint
    ssm            = var.coffer_endpoint
  }
}

data "aws_caller_identity" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  issuer     = trimprefix(var.oidc_issuer, "https://")
}

# The workload's identity: a CI job or a Kubernetes service account, by its OIDC token.
resource "aws_iam_openid_connect_provider" "ci" {
  url             = var.oidc_issuer
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
}

resource "aws_iam_role" "app" {
  name        = "myapp"
  description = "The application, by its workload identity"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = aws_iam_openid_connect_provider.ci.arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = { "${local.issuer}:aud" = "sts.amazonaws.com" }
        StringLike   = { "${local.issuer}:sub" = "repo:example/myapp:*" }
      }
    }]
  })
  tags = { team = "payments" }
}

# The key the app's secrets are encrypted under.
resource "aws_kms_key" "app" {
  description             = "myapp secrets"
  deletion_window_in_days = 7
  tags                    = { team = "payments" }
}

resource "aws_kms_alias" "app" {
  name          = "alias/myapp"
  target_key_id = aws_kms_key.app.key_id
}

resource "aws_secretsmanager_secret" "db" {
  name                    = "prod/myapp/db"
  description             = "myapp's database login"
  kms_key_id              = aws_kms_key.app.arn
  recovery_window_in_days = 0
  tags                    = { team = "payments" }
}

resource "aws_secretsmanager_secret_version" "db" {
  secret_id     = aws_secretsmanager_secret.db.id
  secret_string = jsonencode({ username = "app", password = "initial-password-change-me" })
}

resource "aws_secretsmanager_secret" "api_key" {
  name                    = "prod/myapp/api-key"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "api_key" {
  secret_id     = aws_secretsmanager_secret.api_key.id
  secret_string = "initial-api-key-change-me"
}

# Coffer's built-in rotation function for an opaque key: a new random value every 30 days.
resource "aws_secretsmanager_secret_rotation" "api_key" {
  secret_id           = aws_secretsmanager_secret.api_key.id
  rotation_lambda_arn = "arn:aws:lambda:us-east-1:${local.account_id}:function:coffer-random-value"
  rotate_immediately  = false
  rotation_rules {
    automatically_after_days = 30
  }
  depends_on = [aws_secretsmanager_secret_version.api_key]
}

# Only the app role may read the database login (a resource policy beside the identity policy).
resource "aws_secretsmanager_secret_policy" "db" {
  secret_arn = aws_secretsmanager_secret.db.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OnlyTheApp"
      Effect    = "Deny"
      Principal = "*"
      Action    = "secretsmanager:GetSecretValue"
      Resource  = "*"
      Condition = {
        StringNotEquals = { "aws:PrincipalArn" = [aws_iam_role.app.arn, "arn:aws:iam::${local.account_id}:root"] }
      }
    }]
  })
}

resource "aws_ssm_parameter" "db_host" {
  name  = "/prod/myapp/db/host"
  type  = "String"
  value = "db.internal"
}

resource "aws_ssm_parameter" "feature_flags" {
  name   = "/prod/myapp/feature-flags"
  type   = "SecureString"
  key_id = aws_kms_key.app.arn
  value  = jsonencode({ new_checkout = true })
}

# What the app may do, as a managed policy attached to its role.
resource "aws_iam_policy" "read_app" {
  name        = "myapp-read"
  path        = "/apps/"
  description = "Read myapp's secrets and parameters"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = [aws_secretsmanager_secret.db.arn, aws_secretsmanager_secret.api_key.arn]
      },
      {
        Effect   = "Allow"
        Action   = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
        Resource = "arn:aws:ssm:us-east-1:${local.account_id}:parameter/prod/myapp/*"
      },
      {
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = aws_kms_key.app.arn
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "app_read" {
  role       = aws_iam_role.app.name
  policy_arn = aws_iam_policy.read_app.arn
}

# People: an operator user in a group that carries an AWS managed policy.
resource "aws_iam_user" "operator" {
  name = "alice"
  path = "/operators/"
  tags = { team = "platform" }
}

resource "aws_iam_group" "operators" {
  name = "operators"
}

resource "aws_iam_group_membership" "operators" {
  name  = "operators-membership"
  group = aws_iam_group.operators.name
  users = [aws_iam_user.operator.name]
}

resource "aws_iam_group_policy_attachment" "operators_secrets" {
  group      = aws_iam_group.operators.name
  policy_arn = "arn:aws:iam::aws:policy/SecretsManagerReadWrite"
}

output "app_role_arn" {
  value = aws_iam_role.app.arn
}

output "db_secret_arn" {
  value = aws_secretsmanager_secret.db.arn
}
