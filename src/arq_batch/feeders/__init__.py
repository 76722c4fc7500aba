"""What feeds the queue and tends it: ``watch`` (jobs from new objects), Batch Transform
submission and description, and the dead-letter queue's tools (list, redrive).

May import: the kernel, formats, engine, models and the AWS adapters (through the ports).
Never the worker, which consumes what these produce.
"""
