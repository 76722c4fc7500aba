"""The core: what arq-batch *is*, with no I/O of its own.

Settings, errors, URIs and the bucket layout, message parsing into jobs, model artifacts,
the scoring engine, the scorer compiler, file formats, the streaming transform and
monitoring's statistics and checks. It reaches storage only through the ports it defines
(``core.ports``), so every part of it runs in a unit test without AWS.

May import: ``arq_batch.core`` and third-party data libraries (pyarrow, numpy, PyYAML;
matplotlib, lazily, to draw report pages); never boto3, botocore, the web stack,
scikit-learn or pandas.
"""
