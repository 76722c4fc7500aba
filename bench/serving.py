"""``make bench-serve``: our endpoint vs. ``mlflow models serve``, same model, same load.

Both servers get one worker process, serve the same fitted pipeline and answer
single-sample requests in their own native format, driven closed-loop by wrk on loopback at
concurrency 1, 8 and 32. MLflow runs from its own virtualenv (``MLFLOW_PYTHON``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd

from arq_batch.aws.emulator import free_port
from arq_batch.engine.values import NULL_TOKENS
from arq_batch.models.artifacts import ModelCard, runtime_versions, sha256
from arq_batch.models.scorer_file import scorer_to_json
from arq_batch.training import estimators
from arq_batch.training.compiler import compile_pipeline
from arq_batch.training.memory import clean
from arq_batch.training.pickles import dump_pipeline
from report import replace_section

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ["Biscoe", 48.6, 16.0, 230, 5800, "male", 2008]
LEVELS = (1, 8, 32)


def model_folder(folder: Path) -> list[str]:
    """Train the penguin species classifier into a local run folder; returns feature names."""
    frame = clean(pd.read_csv(ROOT / "data" / "penguins.csv", keep_default_na=False,
                              na_values=list(NULL_TOKENS)), "species")
    features = estimators.features_of(frame, "species")
    pipeline = estimators.build_pipeline(features, "multiclass_classifier")
    names = [f.name for f in features]
    pipeline.fit(frame[names], frame["species"])
    artifact, digest = dump_pipeline(pipeline)
    classes = tuple(str(c) for c in pipeline.named_steps["model"].classes_)
    card = ModelCard("bench", "now", "multiclass_classifier", "species", features, digest, "",
                     classes, versions=runtime_versions("bench"))
    scorer = scorer_to_json(compile_pipeline(pipeline, card))
    card = ModelCard(**{**card.__dict__, "scorer_sha256": sha256(scorer)})
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(artifact)
    (folder / "scorer.json").write_bytes(scorer)
    (folder / "model.json").write_bytes(card.to_json())
    return names


def start(command: list[str], url: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/ping", timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start") from None
            time.sleep(0.2)


def post(url: str, body: str, content_type: str) -> dict:
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wrk(url: str, body: str, content_type: str, connections: int, seconds: int,
        workdir: Path) -> dict[str, float]:
    script = workdir / "post.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                      f'wrk.headers["Content-Type"] = "{content_type}"\n')
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True,
                         check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"errors under load:\n{out}")
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
            "p99": _ms(re.search(r"\s99%\s+(\S+)", out).group(1))}


def _ms(text: str) -> float:
    value, unit = float(re.match(r"[\d.]+", text).group()), re.sub(r"[\d.]+", "", text)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--write", default=str(ROOT / "docs" / "performance.md"))
    args = parser.parse_args(argv)
    mlflow_python = os.environ.get("MLFLOW_PYTHON", str(ROOT / ".venv-bench" / "bin" / "python"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        names = model_folder(work / "ours")
        # MLflow's default (skops) format asks which types to trust: OneHotEncoder's dtype.
        subprocess.run([mlflow_python, "-c", "import sys, joblib, mlflow.sklearn; "
                        "mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[2], "
                        "skops_trusted_types=['numpy.dtype'])",
                        str(work / "ours" / "model.joblib"), str(work / "mlflow")], check=True,
                       capture_output=True)
        ours_port, mlflow_port = free_port(), free_port()
        env = {**os.environ, "ARQ_BATCH_CONFIG": "/dev/null"}
        mlflow_bin = str(Path(mlflow_python).parent)
        mlflow_env = {**env, "PATH": f"{mlflow_bin}:{env['PATH']}"}  # it execs `uvicorn`
        servers = {
            "arq-batch": (start([sys.executable, "-m", "arq_batch", "serve", "--model",
                                 str(work / "ours"), "--port", str(ours_port)],
                                f"http://127.0.0.1:{ours_port}", env),
                          f"http://127.0.0.1:{ours_port}/invocations",
                          ",".join(map(str, SAMPLE)), "text/csv"),
            "mlflow": (start([str(Path(mlflow_bin) / "mlflow"), "models", "serve",
                              "-m", str(work / "mlflow"), "-p", str(mlflow_port), "-w", "1",
                              "--env-manager", "local"], f"http://127.0.0.1:{mlflow_port}",
                             mlflow_env),
                       f"http://127.0.0.1:{mlflow_port}/invocations",
                       json.dumps({"dataframe_split": {"columns": names, "data": [SAMPLE]}}),
                       "application/json"),
        }
        try:
            ours = post(*servers["arq-batch"][1:])["predictions"][0]["predicted_label"]
            theirs = post(*servers["mlflow"][1:])["predictions"][0]
            assert ours == theirs, (ours, theirs)
            rows = [(c, name, wrk(url, body, ctype, c, args.seconds, work))
                    for c in LEVELS for name, (_, url, body, ctype) in servers.items()]
        finally:
            for process, *_ in servers.values():
                process.terminate()
                process.wait(timeout=30)
    report = table(rows)
    print(report)
    replace_section(Path(args.write), "serve", SECTION.format(seconds=args.seconds,
                                                              table=report))
    return 0


def table(rows: list[tuple[int, str, dict[str, float]]]) -> str:
    lines = ["| concurrency | server | req/s | p50 ms | p99 ms | throughput vs MLflow |",
             "|---:|---|---:|---:|---:|---:|"]
    mlflow = {c: r for c, name, r in rows if name == "mlflow"}
    for c, name, r in rows:
        ratio = f"{r['rps'] / mlflow[c]['rps']:.1f}x" if name != "mlflow" else ""
        lines.append(f"| {c} | {name} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} "
                     f"| {ratio} |")
    return "\n".join(lines)


SECTION = """## Real-time endpoint: arq-batch vs. `mlflow models serve`

`make bench-serve`: the same penguin-species pipeline behind each server (one worker
process each), single-sample requests in each server's native format (CSV row for ours,
MLflow's `dataframe_split` JSON), closed-loop load from `wrk -t1` on loopback for
{seconds} s per level, both on the same 2 cores as the load generator.

{table}
"""

if __name__ == "__main__":
    sys.exit(main())
