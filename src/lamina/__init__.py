"""lamina: a self-hosted serverless platform wire-compatible with AWS Lambda and Step Functions."""

__version__ = "0.1.0"
