"""The batch worker: the queue loop, the visibility heartbeat, the job runner, error
reports, the dead-letter queue commands, the health check and the process entry point;
plus ``score`` on local files, which runs the same engine.

May import: ``arq_batch.core`` and ``arq_batch.aws``; never serving, training, query or cli.
"""
