"""``make bench-train``: training on a raw CSV bigger than is comfortable in memory.

A generated raw CSV (``--rows`` rows x 10 numeric + 2 categorical columns and a yes/no
label from a known logistic model; 10M rows is about 1 GB) is trained three ways, each a
child process whose peak RSS is read with ``wait4``:

Peak RSS is each child's own high-water mark (VmHWM, read as it exits; see
``tests/peak.py`` for why not ``wait4``).

- **naive**: pandas ``read_csv`` of the whole file, then one scikit-learn pipeline
  (impute, scale, one-hot, ``LogisticRegression``) fitted on 80% and tested on 20%;
- **ours**: ``arq-batch train`` (automatic solver choice: the file is over
  ``training.exact_max_bytes``, so it streams), 16 candidates, with the moto server as S3;
- **exact reference**: ``arq-batch train --solver exact`` on the first 1M rows, which fit
  in memory: the quality ours should reach.

**limit**: the time to parse the file once with pyarrow (every approach reads it at least
once; ours twice).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.peak import run_measured
from tests.training_data import write

from arq_batch.aws.emulator import Emulator
from report import section_main

REFERENCE_ROWS = 1_000_000
NAIVE = """
import json, sys, pandas as pd
from sklearn import metrics
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
frame = pd.read_csv(sys.argv[1])
x, y = frame.drop(columns="label"), frame["label"] == "yes"
numeric = [c for c in x.columns if c.startswith("x")]
prep = ColumnTransformer([
    ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
    ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                          OneHotEncoder(handle_unknown="ignore")), ["colour", "shop"])])
xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
model = Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=1000))]).fit(xtr, ytr)
print(json.dumps({"accuracy": metrics.accuracy_score(yte, model.predict(xte)),
                  "roc_auc": metrics.roc_auc_score(yte, model.predict_proba(xte)[:, 1])}))
"""


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS MB (the child's own VmHWM) and stdout of one child process."""
    started = time.perf_counter()
    done, peak = run_measured(args, env)
    if done.returncode:
        raise SystemExit(f"{args[:3]} failed with {done.returncode}: {done.stderr[-800:]}")
    return time.perf_counter() - started, peak, done.stdout


def ours(data: Path, aws: Emulator, extra: list[str]) -> tuple[float, float, dict[str, float]]:
    """``arq-batch train`` against the moto server."""
    env = dict(aws.env)
    run(["-m", "arq_batch", "provision"], env)
    wall, rss, text = run(["-m", "arq_batch", "train", "--data", str(data), "--target", "label",
                           "--promote", "never", "--json", *extra], env)
    result = json.loads(text)
    return wall, rss, {**result["metrics"], "solver": result["solver"]}


def measure(rows: int) -> str:
    with tempfile.TemporaryDirectory() as tmp, Emulator() as aws:
        data, sample = write(Path(tmp) / "raw.csv", rows), Path(tmp) / "sample.csv"
        write(sample, min(rows, REFERENCE_ROWS))
        started = time.perf_counter()
        pacsv.read_csv(data)
        limit = time.perf_counter() - started
        naive = run(["-c", NAIVE, str(data)])
        results = [("naive (pandas + one fit)", naive[0], naive[1], json.loads(naive[2])),
                   ("ours (arq-batch train)", *ours(data, aws, [])),
                   (f"exact reference ({min(rows, REFERENCE_ROWS):,} rows)",
                    *ours(sample, aws, ["--solver", "exact"]))]
        return render(rows, data.stat().st_size, limit, results)


def render(rows: int, size: int, limit: float, results: list[tuple]) -> str:
    lines = ["## Training on a raw CSV bigger than is comfortable in memory "
             "(`make bench-train`)", "",
             f"Raw CSV: {rows:,} rows, {size / 1e9:.2f} GB; limit (one pyarrow parse of the "
             f"file): {limit:.1f} s. Peak RSS is each process's own VmHWM.", "",
             "| approach | solver | wall s | peak RSS MB | test accuracy | test ROC AUC |",
             "|---|---|---:|---:|---:|---:|"]
    for name, wall, rss, found in results:
        lines.append(f"| {name} | {found.get('solver', 'lbfgs')} | {wall:.1f} | {rss:,.0f} | "
                     f"{found['accuracy']:.4f} | {found['roc_auc']:.4f} |")
    return "\n".join(lines)


def main() -> int:
    return section_main("training", measure, __doc__)


if __name__ == "__main__":
    sys.exit(main())
