"""Training: the pipeline from a raw CSV to a published model (split, fit, evaluate,
write Linear Learner's training format and the artifacts), and its scikit-learn parts.

May import: the kernel, formats, engine, monitoring, models, reports, stores, the AWS
adapters and ``wiring``; scikit-learn and pandas live here.
Never worker, serving, query or cli.
"""
