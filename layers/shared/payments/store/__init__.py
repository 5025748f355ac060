"""pynamodb models and repositories: the only code that touches DynamoDB."""
