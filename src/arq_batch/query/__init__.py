"""SQL over the bucket: DuckDB with its httpfs extension reads the job ledger, the
predictions dataset, the error reports and the outputs where they lie, and ``status``
answers an operator's questions from them.

May import: the kernel, formats, engine, monitoring, models, reports, stores, the AWS
adapters and ``wiring``; DuckDB lives here. Never worker,
training, serving or cli.
"""
