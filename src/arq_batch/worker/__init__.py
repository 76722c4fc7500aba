"""The batch worker, the queue's consumer: the loop, the visibility heartbeat, the message
handler and job runner, split jobs (``worker.splits``), error reports, the ledger writer,
metrics, the health check and the process entry point; plus ``score`` on one file, which
runs the same engine.

May import: the kernel, formats, engine, monitoring, models, stores, the AWS adapters and
``wiring``; never feeders, serving, training, query or cli.
"""
