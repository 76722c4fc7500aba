"""The ``arq-batch`` command line: one module per command group, each only parsing
arguments, wiring the parts together and printing results; plus the end-to-end demo.

May import anything in ``arq_batch``; nothing imports it but ``__main__``.
"""
