"""``arq-batch console``: web pages for the people who run the fleet (overview, jobs, one
job, models, monitoring, the DLQ, read-only SQL), read from what the workers already
write, through the query engine's read path; changes (promote, rollback, redrive) are
token-guarded form POSTs, each written to an audit record in the bucket.

May import: the kernel, formats, engine, monitoring, models, reports, stores, the AWS
adapters, ``wiring``, ``query`` and ``feeders``; Starlette, uvicorn and Jinja2 serve the
pages. Nothing imports it but the cli.
"""
