"""Object stores and queues that are not AWS: in memory (fast tests, users' own tests)
and local files (``score`` on a laptop). They implement the kernel's ports exactly as the
AWS adapters do, and the same contract tests hold them to it.

May import: the kernel only.
"""
