"""Training: the pipeline from a raw CSV to a published model (split, fit, evaluate,
write Linear Learner's training format and the artifacts), and its scikit-learn parts.

May import: ``arq_batch.core`` and ``arq_batch.aws``; scikit-learn and pandas live here.
Never worker, serving, query or cli.
"""
