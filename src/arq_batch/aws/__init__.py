"""Everything that talks to AWS: the S3 and SQS adapters of the core's ports, boto3
clients, the classification of AWS faults, provisioning, the model store and the
embedded emulator (a moto server) for laptops and tests.

May import: ``arq_batch.core`` and ``arq_batch.aws``. The only package that imports
boto3 or botocore.
"""
