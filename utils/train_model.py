"""Train the small example model (the prototype's salary data) with the package's pipeline:
a search over 16 candidates, the best on validation, and its report beside this script's
folder (model/salary-report.html) as well as in the bucket.

Usage: python utils/train_model.py [--data data/salary.csv] [--target Salary] [train flags]
Needs AWS (or AWS_ENDPOINT_URL pointing at a moto server) and a provisioned bucket.
"""

from __future__ import annotations

import sys
from pathlib import Path

from arq_batch.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["--data", str(ROOT / "data" / "salary.csv"), "--target", "Salary",
           "--num-models", "16", "--report", str(ROOT / "model" / "salary-report.html")]

if __name__ == "__main__":
    sys.exit(main(["train", *(sys.argv[1:] or DEFAULT)]))
