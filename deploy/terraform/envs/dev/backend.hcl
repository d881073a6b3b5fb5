# terraform init -backend-config=backend.hcl -backend-config="bucket=callmcp-tfstate-ACCOUNT_ID"
key            = "callmcp/dev/terraform.tfstate"
region         = "us-east-1"
dynamodb_table = "callmcp-tfstate-lock"
encrypt        = true
