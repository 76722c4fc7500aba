"""The kernel: the few ideas every other part of arq-batch shares.

Errors (retryable or permanent), ``s3://`` URIs, the ports (``ObjectStore``, ``Queue``)
every adapter implements, the frozen ``Settings`` and the rules they keep, where each kind
of object lives in the bucket and who may write there (``layout``), outcomes, and logging.

May import: ``arq_batch.kernel`` only, and the standard library plus PyYAML (settings).
Never boto3, botocore, scikit-learn, joblib, matplotlib, DuckDB or a web server.
"""
