"""Simulate the upstream steps: train a small model, upload an input, send its event.

Usage: python utils/mock_process.py [INPUT_CSV]   (default: data/salary.csv)
Then run `arq-batch worker --once` to score it. The S3 notification delivers the event
when provisioned; this script also sends an explicit job message, as an upstream system
without notifications would. The worker is idempotent, so the duplicate is harmless.
"""

from __future__ import annotations

import sys
from pathlib import Path

from arq_batch import wiring
from arq_batch.cli.main import main
from arq_batch.kernel.settings import load_settings
from arq_batch.kernel.uris import S3Uri

DATA = Path(__file__).resolve().parents[1] / "data"


def run(input_csv: Path) -> int:
    """Steps 1-3 of the prototype's flow, through the same commands a user runs."""
    bucket_key = f"data/input/{input_csv.name}"
    settings = load_settings()
    steps = [["provision"], ["train", "--data", str(DATA / "salary.csv"), "--target", "Salary"]]
    for step in steps:
        if main(step) != 0:
            return 1
    uri = S3Uri(settings.bucket, bucket_key)
    wiring.object_store(settings).put_bytes(uri, input_csv.read_bytes())
    print(f"uploaded {input_csv} to {uri}")
    return main(["send", str(uri)])


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA / "salary.csv"))
