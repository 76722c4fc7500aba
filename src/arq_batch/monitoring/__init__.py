"""Data quality and drift, as SageMaker Model Monitor defines them, in the scoring pass.

Statistics of a dataset (the training data's at ``train``, each job's input as it
streams), the Model Monitor files they become (``statistics.json``, ``constraints.json``,
``constraint_violations.json``) and the checks that compare a job with its baseline.
Everything here is pure: the tap that writes a job's files goes through the ports.

May import: the kernel, formats and engine, numpy and pyarrow.
"""
