"""Thin helpers over AWS services other than DynamoDB (which is store's)."""
