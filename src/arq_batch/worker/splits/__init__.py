"""Split jobs: one large input scored as parts by many workers, then assembled.

``splitter`` plans a job into parts and scores one part; ``assembly`` marks parts done
and lets the last one assemble the output, the predictions and the monitoring files.

May import: what the worker may (it is part of it).
"""
