"""Training at Linear Learner's level, against the moto server: the model search, the tuned
threshold every scorer uses, the report, and bad options."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import urllib.request
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
import uvicorn
from sklearn.linear_model import LogisticRegression, Ridge

from arq_batch import wiring
from arq_batch.aws.emulator import free_port
from arq_batch.cli.main import main
from arq_batch.kernel.settings import ServeSettings, load_settings
from arq_batch.models.artifacts import Feature
from arq_batch.models.store import ModelStore
from arq_batch.serving.app import server_config
from arq_batch.training import selection
from arq_batch.training.options import SearchOptions
from arq_batch.training.pickles import load_pipeline
from arq_batch.training.pipeline import TrainRequest, train
from arq_batch.training.streamprep import frame_of

from ..conftest import PENGUINS
from .conftest import cli
from .helpers import BUCKET, exists, provision_and_train, read_csv

SECTIONS = {"regressor": {"parity", "residuals"},
            "binary_classifier": {"confusion-matrix", "roc", "precision-recall"},
            "multiclass_classifier": {"confusion-matrix", "roc", "precision-recall"}}
COMMON = {"metrics", "candidates", "learning-curves", "coefficients"}


def records(s3: Any, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Linear Learner's headerless target-first CSV: (target, features)."""
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    matrix = np.loadtxt(io.BytesIO(body), delimiter=",", ndmin=2)
    return matrix[:, 0], matrix[:, 1:]


def card_of(s3: Any, run_id: str) -> dict[str, Any]:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=f"model/output/{run_id}/model.json")
                      ["Body"].read())


@pytest.mark.parametrize(("target", "predictor"), [
    ("species", "multiclass_classifier"), ("sex", "binary_classifier"),
    ("body_mass_g", "regressor")])
def test_the_search_winner_beats_every_candidate_and_the_default_model(
    target: str, predictor: str, s3, config_file,
) -> None:
    provision_and_train(target)  # provisions; a second run below searches again
    settings = load_settings()
    result = train(TrainRequest(str(PENGUINS), target, seed=3), wiring.object_store(settings),
                   settings)
    card = card_of(s3, result.run_id)
    search = card["search"]
    assert card["predictor_type"] == predictor and search["solver"] == "exact"
    rows = search["candidates"]
    assert len(rows) == 16 and {"alpha", "l1_ratio", "validation_metric", "fit_seconds"} <= \
        set(rows[0])
    options = SearchOptions(**search["options"])
    values = [r["validation_metric"] for r in rows]
    best = min(values) if options.selection_criterion in selection.MINIMISED else max(values)
    assert values[search["winner"]] == best
    assert options.selection_criterion in search["reason"]

    # The single default model, fitted here on the very files training wrote.
    y_train, x_train = records(s3, f"data/train/{result.run_id}/train.csv")
    y_val, x_val = records(s3, f"data/train/{result.run_id}/validation.csv")
    default = Ridge(alpha=1.0) if predictor == "regressor" else LogisticRegression(max_iter=2000)
    default.fit(x_train, y_train)
    z = np.atleast_2d(default.decision_function(x_val) if predictor != "regressor"
                      else default.predict(x_val))
    z = z.T if z.shape[0] == 1 else z
    baseline = selection.metric(options, y_val, z)
    # The files hold float32 text (what Linear Learner reads): allow for that rounding.
    slack = 1e-6 * abs(best) + 1e-9
    if options.selection_criterion in selection.MINIMISED:
        assert baseline >= best - slack
    else:
        assert baseline <= best + slack
    assert_report(s3, result.run_id, predictor)


def assert_report(s3: Any, run_id: str, predictor: str) -> None:
    """report.html: every section, its plots inline as PNG, nothing fetched from anywhere."""
    page = s3.get_object(Bucket=BUCKET, Key=f"model/output/{run_id}/report.html")["Body"].read()
    parsed = _Page()
    parsed.feed(page.decode())
    assert COMMON | SECTIONS[predictor] <= parsed.sections
    # every section but the metrics and candidates tables and the promotion verdict
    assert len(parsed.images) == len(parsed.sections) - 3
    for source in parsed.images:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert parsed.external == [] and parsed.tables >= 2


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: set[str] = set()
        self.images: list[str] = []
        self.external: list[str] = []
        self.tables = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section":
            self.sections.add(str(found["id"]))
        elif tag == "img":
            self.images.append(str(found["src"]))
        elif tag == "table":
            self.tables += 1
        if tag in ("script", "link", "iframe") or any(
                str(v).startswith(("http:", "https:", "//")) for k, v in attrs
                if k in ("src", "href")):
            self.external.append(tag)


@pytest.mark.parametrize(("flags", "words"), [
    (["--predictor-type", "binary_classifier", "--selection-criterion", "rmse"],
     "--selection-criterion rmse does not fit a binary_classifier"),
    (["--selection-criterion", "precision_at_target_recall"],  # species: multiclass, found late
     "does not fit a multiclass_classifier"),
    (["--quantile", "1.5", "--loss", "quantile"], "--quantile must be in (0, 1)"),
    (["--target-recall", "0"], "--target-recall must be in (0, 1]"),
    (["--predictor-type", "regressor", "--loss", "softmax"], "--loss softmax does not fit"),
    (["--num-models", "0"], "--num-models must be between 1 and 256"),
    (["--positive-example-weight-mult", "heavy"], "a number > 0 or 'balanced'"),
    (["--report", "/no/such/folder/report.html"], "its folder does not exist"),
])
def test_bad_options_exit_2_with_one_line(flags: list[str], words: str, s3, config_file,
                                          capsys) -> None:
    provision_and_train("species")
    capsys.readouterr()
    code = main(["train", "--data", str(PENGUINS), "--target", "species", *flags])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err, err


def test_a_tuned_threshold_meets_its_target_and_every_scorer_uses_it(
    s3, sqs, config_file, start_worker, tmp_path,
) -> None:
    provision_and_train("species")
    trained = json.loads(cli("train", "--data", str(PENGUINS), "--target", "sex",
                             "--selection-criterion", "precision_at_target_recall",
                             "--target-recall", "0.95", "--json").stdout)
    run_id = trained["run_id"]
    card = card_of(s3, run_id)
    assert trained["promoted"] and card["threshold"] != 0.0
    pipeline = load_pipeline(_get(s3, run_id, "model.json"), _get(s3, run_id, "model.joblib"),
                             run_id)
    y_val, x_val = records(s3, f"data/train/{run_id}/validation.csv")
    predicted = pipeline.named_steps["model"].predict(x_val)
    positive = card["classes"][1]
    recall = np.mean(predicted[y_val == 1] == positive)
    assert recall >= 0.95

    table = pacsv.read_csv(PENGUINS)
    rows = table.filter(pc.is_valid(table["sex"]))
    frame = frame_of(rows, tuple(Feature(**f) for f in card["features"]))
    expected = list(pipeline.predict(frame))
    decision = pipeline.named_steps["model"].decision_function(
        pipeline.named_steps["prep"].transform(frame))
    at_zero = np.where(decision > 0, card["classes"][1], card["classes"][0])
    assert sum(a != b for a, b in zip(expected, at_zero, strict=True)) >= 1  # it matters

    body = io.BytesIO()
    pacsv.write_csv(rows.drop_columns(["sex"]), body)
    s3.put_object(Bucket=BUCKET, Key="data/input/sex.csv", Body=body.getvalue())
    worker = start_worker()
    worker.wait_for(lambda: exists(s3, "data/output/sex.csv"))
    batch = read_csv(s3, "data/output/sex.csv")["predicted_label"].to_pylist()
    (tmp_path / "in.csv").write_bytes(body.getvalue())
    cli("score", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "out.csv"))
    scored = pacsv.read_csv(tmp_path / "out.csv")["predicted_label"].to_pylist()
    online = _invoke(rows.drop_columns(["sex"]))
    assert batch == scored == online == expected


def _get(s3: Any, run_id: str, name: str) -> bytes:
    return bytes(s3.get_object(Bucket=BUCKET, Key=f"model/output/{run_id}/{name}")["Body"].read())


def _invoke(rows: pa.Table) -> list[Any]:
    """The endpoint (our app on uvicorn, in a thread) asked for every row at once."""
    settings = load_settings()
    model = ModelStore(wiring.object_store(settings), settings).get()
    port = free_port()
    server = uvicorn.Server(server_config(model, ServeSettings(), "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", method="POST",
            data=json.dumps({"instances": rows.to_pylist()}).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    finally:
        server.should_exit = True
        thread.join(10)
    return [p["predicted_label"] for p in answer["predictions"]]
