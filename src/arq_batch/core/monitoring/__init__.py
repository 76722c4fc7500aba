"""Data quality and drift, as SageMaker Model Monitor defines them, in the scoring pass.

Statistics of a dataset (the training data's at ``train``, each job's input as it
streams), the Model Monitor files they become (``statistics.json``, ``constraints.json``,
``constraint_violations.json``) and the checks that compare a job with its baseline.
Everything here is pure: the tap that writes a job's files goes through ``core.ports``.

May import: ``arq_batch.core`` and numpy/pyarrow, like the rest of the core.
"""
