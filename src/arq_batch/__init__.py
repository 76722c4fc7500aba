"""arq-batch: train linear models and score files on S3 from an SQS queue."""

__version__ = "0.1.0"
