"""The real-time endpoint: the HTTP app (SageMaker's /ping and /invocations), the
request and response shapes it speaks, and the create/invoke/delete lifecycle.

May import: the kernel, formats, engine, monitoring, models, reports, stores, the AWS
adapters and ``wiring``; the web stack (starlette, uvicorn)
lives here. Never worker, training, query or cli.
"""
