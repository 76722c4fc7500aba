"""Train the small example model (the prototype's salary data) with the package's pipeline.

Usage: python utils/train_model.py [--data data/salary.csv] [--target Salary]
Needs AWS (or AWS_ENDPOINT_URL pointing at a moto server) and a provisioned bucket.
"""

from __future__ import annotations

import sys
from pathlib import Path

from arq_batch.cli.main import main

DEFAULT = ["--data", str(Path(__file__).resolve().parents[1] / "data" / "salary.csv"),
           "--target", "Salary"]

if __name__ == "__main__":
    sys.exit(main(["train", *(sys.argv[1:] or DEFAULT)]))
