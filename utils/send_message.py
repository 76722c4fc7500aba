"""Enqueue one job: python utils/send_message.py s3://bucket/key [--output URI] [--model URI]."""

from __future__ import annotations

import sys

from arq_batch.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["send", *sys.argv[1:]]))
