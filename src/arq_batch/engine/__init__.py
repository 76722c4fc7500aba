"""The engine: a job from its message to its scored bytes, with no I/O of its own.

Messages and Batch Transform requests parsed into frozen jobs, job options and JSONPath
filters, cell values read as the model's types, the pure scoring core, the shaping of
output records, the file stream (reader -> scorer -> writer -> taps), the predictions
dataset's rows, ledger records and split plans. It reaches storage only through the
kernel's ports, so every part of it runs in a unit test without AWS.

May import: ``arq_batch.kernel``, ``arq_batch.formats``, ``arq_batch.engine``, numpy and
pyarrow. Never boto3, botocore, scikit-learn, joblib, matplotlib, DuckDB or a web server.
"""
