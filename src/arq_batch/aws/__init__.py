"""Everything that talks to AWS: the S3 and SQS adapters of the kernel's ports, boto3
clients, the one translation of AWS faults into our errors, provisioning, and the
embedded emulator (a moto server) for laptops and tests.

May import: ``arq_batch.kernel`` and ``arq_batch.aws``. The only package that imports
boto3 or botocore.
"""
