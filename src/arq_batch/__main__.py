"""``python -m arq_batch`` is the same CLI as ``arq-batch``."""

from arq_batch.cli.main import main

raise SystemExit(main())
