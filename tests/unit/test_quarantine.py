"""Bad rows within a budget (contract 13): the output is the clean file's output without
them, the quarantine file holds exactly their bytes, ``.errors.jsonl`` names each by its
0-based row, in every format and wrapping; over the budget nothing is left behind."""

from __future__ import annotations

import gzip
import io
import json
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arq_batch.engine.filestream import Source, compressed, transform
from arq_batch.engine.quarantine import NoGoodRows, Quarantine, Targets, TooManyBadRows
from arq_batch.formats import detect, recordio
from arq_batch.formats.record_schema import Record
from arq_batch.kernel.errors import DataError
from arq_batch.kernel.fleet_settings import WorkerSettings
from arq_batch.stores import local as files

from ..conftest import PENGUINS

HEADER, *LINES = PENGUINS.read_bytes().splitlines(keepends=True)
BAD_CSV = (  # one of each kind, all 8 fields but the second
    b"Adelie,Torgersen,thirty-nine,18.7,181,3750,male,2007\n",
    b"Adelie,Torgersen,39.1\n",
    b"Adelie,Torgersen,1e400,18.7,181,3750,male,2007\n",
    b'"Adelie\nGentoo",Biscoe,-inf,18.7,181,3750,male,2007\n',  # a quoted line break
)


PACK = {"": bytes, ".gz": gzip.compress, ".zst": zstandard.ZstdCompressor().compress}
UNPACK = {"": bytes, ".gz": gzip.decompress,
          ".zst": lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b)}


def score(tmp_path: Path, name: str, body: bytes, scorer, budget: int = 0
          ) -> tuple[Path, Quarantine | None]:
    """Score ``body`` as the local file ``name``; the output and the quarantine used."""
    source, out = tmp_path / name, tmp_path / f"out-{name}"
    source.write_bytes(body)
    opener = partial(files.open_file, str(source))
    fmt = detect(name)
    quarantine = None
    if budget:
        targets = Targets(lambda: files.LocalWriter(f"{out}.quarantine"),
                          lambda: files.LocalWriter(f"{out}.errors.jsonl"), lambda: None,
                          str(source))
        quarantine = Quarantine(budget, fmt, opener, targets,
                                partial(compressed, fmt.compression, WorkerSettings()))
    transform(Source(fmt, opener, opener), files.LocalWriter(str(out)), scorer,
              WorkerSettings(batch_rows=50), quarantine=quarantine)
    return out, quarantine


def errors(out: Path) -> list[dict]:
    return [json.loads(line) for line in Path(f"{out}.errors.jsonl").read_text().splitlines()]


def mixed(lines: list[bytes], bad: tuple[bytes, ...], every: int = 37
          ) -> tuple[list[bytes], list[int]]:
    """``lines`` with the ``bad`` ones spread among them; and the bad ones' 0-based rows."""
    out, rows = list(lines), []
    for i, line in enumerate(bad):
        at = min(len(out), (i + 1) * every)
        out.insert(at, line)
        rows.append(at)
    return out, rows


@pytest.mark.parametrize("wrap", ["", ".gz", ".zst"])
@pytest.mark.parametrize("header", [True, False])
def test_csv_bad_rows_are_set_aside_byte_for_byte(tmp_path: Path, species_model, wrap: str,
                                                  header: bool, numeric_species_model) -> None:
    if header:
        _, scorer, _ = species_model
        good, bad, head = LINES, BAD_CSV, HEADER
    else:  # headerless: numbers only, the model's features in model.json order
        _, scorer, x, _ = numeric_species_model
        good = [",".join(f"{v:g}" for v in row).encode() + b"\n"
                for row in x.dropna().to_numpy()]
        bad, head = (b"39.1,18.7,abc,3750\n", b"39.1,18.7\n", b"39.1,inf,181,3750\n"), b""
    body, rows = mixed(good, bad)
    pack = PACK[wrap]
    clean, _ = score(tmp_path, f"clean.csv{wrap}", pack(head + b"".join(good)), scorer)
    out, quarantine = score(tmp_path, f"dirty.csv{wrap}", pack(head + b"".join(body)), scorer,
                            budget=len(bad))
    assert quarantine is not None and quarantine.count == len(bad)
    assert out.read_bytes() == clean.read_bytes()
    assert UNPACK[wrap](Path(f"{out}.quarantine").read_bytes()) == head + b"".join(bad)
    assert [e["row"] for e in errors(out)] == rows
    assert all(e["reason"] for e in errors(out))


@pytest.mark.parametrize("wrap", ["", ".gz", ".zst"])
def test_json_lines_bad_lines_are_set_aside(tmp_path: Path, sex_model, wrap: str) -> None:
    _, scorer, x = sex_model
    good = [json.dumps(r).encode() + b"\n" for r in x.head(120).to_dict("records")]
    bad = (b"[1, 2]\n", b"{not json\n", b'{"bill_length_mm": "long"}\n',
           b'{"bill_length_mm": 1e400}\n', b'{"bill_depth_mm": true}\n')
    body, rows = mixed(good, bad, every=20)
    clean, _ = score(tmp_path, f"clean.jsonl{wrap}", PACK[wrap](b"".join(good)), scorer)
    out, _ = score(tmp_path, f"dirty.jsonl{wrap}", PACK[wrap](b"".join(body)), scorer, budget=5)
    assert UNPACK[wrap](out.read_bytes()) == UNPACK[wrap](clean.read_bytes())
    assert UNPACK[wrap](Path(f"{out}.quarantine").read_bytes()) == b"".join(bad)
    assert [e["row"] for e in errors(out)] == rows
    assert [e["column"] for e in errors(out)] == [None, None, "bill_length_mm",
                                                   "bill_length_mm", "bill_depth_mm"]


@pytest.mark.parametrize("wrap", ["", ".gz"])
def test_recordio_undecodable_records_are_set_aside(tmp_path: Path, numeric_species_model,
                                                    wrap: str) -> None:
    _, scorer, x, _ = numeric_species_model

    def record(values) -> bytes:
        message = Record()
        message.features["values"].float32_tensor.values.extend(values)
        return recordio.frame(message.SerializeToString())

    good = [record(row) for row in x.dropna().to_numpy()[:100]]
    bad = (recordio.frame(b"\xff\xff not a record"), record([1.0, 2.0]))
    body, rows = mixed(good, bad, every=30)
    clean, _ = score(tmp_path, f"clean.recordio{wrap}", PACK[wrap](b"".join(good)), scorer)
    out, _ = score(tmp_path, f"dirty.recordio{wrap}", PACK[wrap](b"".join(body)), scorer,
                   budget=2)
    assert UNPACK[wrap](out.read_bytes()) == UNPACK[wrap](clean.read_bytes())
    assert UNPACK[wrap](Path(f"{out}.quarantine").read_bytes()) == b"".join(bad)
    assert [e["row"] for e in errors(out)] == rows


def test_parquet_bad_values_go_to_a_parquet_file_of_the_input_schema(tmp_path: Path,
                                                                     mass_model) -> None:
    _, scorer, x = mass_model
    table = pa.Table.from_pandas(x.head(100), preserve_index=False)
    lengths = table.column("bill_length_mm").to_pylist()
    rows = [7, 58]
    for row in rows:
        lengths[row] = float("inf")
    dirty = table.set_column(table.schema.get_field_index("bill_length_mm"), "bill_length_mm",
                             pa.array(lengths))
    clean_table = dirty.take([i for i in range(100) if i not in rows])

    def parquet(t: pa.Table) -> bytes:
        sink = io.BytesIO()
        pq.write_table(t, sink)
        return sink.getvalue()

    clean, _ = score(tmp_path, "clean.parquet", parquet(clean_table), scorer)
    out, _ = score(tmp_path, "dirty.parquet", parquet(dirty), scorer, budget=2)
    assert pq.read_table(out).equals(pq.read_table(clean))
    set_aside = pq.read_table(f"{out}.quarantine")
    assert set_aside.schema == dirty.schema
    assert set_aside.equals(dirty.take(rows))
    assert [e["row"] for e in errors(out)] == rows


def test_over_the_budget_nothing_is_written_and_the_error_lists_the_bad_rows(
        tmp_path: Path, species_model) -> None:
    _, scorer, _ = species_model
    body, rows = mixed(LINES, BAD_CSV)
    with pytest.raises(TooManyBadRows) as failed:
        score(tmp_path, "dirty.csv", HEADER + b"".join(body), scorer, budget=3)
    assert [b.row for b in failed.value.bad] == rows
    assert not list(tmp_path.glob("out-*"))


def test_over_the_budget_the_report_lists_bad_rows_found_after_it_ran_out(
        tmp_path: Path, species_model) -> None:
    # The budget runs out in the first batches; the job reads on for the report's rows.
    _, scorer, _ = species_model
    body, rows = mixed(LINES * 60, BAD_CSV, every=4000)
    with pytest.raises(TooManyBadRows) as failed:
        score(tmp_path, "dirty.csv", HEADER + b"".join(body), scorer, budget=1)
    assert [b.row for b in failed.value.bad] == rows and failed.value.complete
    assert not list(tmp_path.glob("out-*"))


def test_no_budget_fails_the_file_as_before(tmp_path: Path, species_model) -> None:
    _, scorer, _ = species_model
    body, _ = mixed(LINES, BAD_CSV[:1])
    with pytest.raises(Exception, match="thirty-nine"):
        score(tmp_path, "dirty.csv", HEADER + b"".join(body), scorer)
    assert not list(tmp_path.glob("out-*"))


def test_a_quarantine_file_is_itself_a_valid_input(tmp_path: Path, species_model) -> None:
    _, scorer, _ = species_model
    body, _ = mixed(LINES, BAD_CSV)
    out, _ = score(tmp_path, "dirty.csv", HEADER + b"".join(body), scorer, budget=4)
    fixed = Path(f"{out}.quarantine").read_bytes().replace(b"thirty-nine", b"39.0")
    again, quarantine = score(tmp_path, "fixed.csv", fixed, scorer, budget=4)
    assert quarantine is not None and quarantine.count == 3  # the three not fixed
    assert pacsv.read_csv(again).num_rows == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(["good", *range(len(BAD_CSV))]), min_size=1,
                      max_size=60))
def test_output_and_quarantine_add_up_to_the_input(tmp_path_factory, species_model,
                                                   kinds) -> None:
    # Any mix of good and bad lines within the budget: nothing lost, nothing doubled.
    _, scorer, _ = species_model
    tmp = tmp_path_factory.mktemp("mix")
    lines = [LINES[i % len(LINES)] if kind == "good" else BAD_CSV[kind]
             for i, kind in enumerate(kinds)]
    bad = [i for i, kind in enumerate(kinds) if kind != "good"]
    if len(bad) == len(lines):  # nothing to deliver: fails like an empty file
        with pytest.raises(NoGoodRows):
            score(tmp, "mix.csv", HEADER + b"".join(lines), scorer, budget=len(bad))
        return
    out, quarantine = score(tmp, "mix.csv", HEADER + b"".join(lines), scorer,
                            budget=max(1, len(bad)))
    assert quarantine is not None and quarantine.count == len(bad)
    scored = pacsv.read_csv(out, convert_options=pacsv.ConvertOptions(
        strings_can_be_null=False, column_types={n: pa.string() for n in
                                                 HEADER.decode().strip().split(",")}))
    kept = [line for i, line in enumerate(lines) if i not in bad]
    assert scored.num_rows == len(kept)
    assert scored.column("species").to_pylist() == [
        line.split(b",")[0].decode() for line in kept]
    if bad:
        assert Path(f"{out}.quarantine").read_bytes() == HEADER + b"".join(
            lines[i] for i in bad)
        assert [e["row"] for e in errors(out)] == bad


def test_a_wrong_line_deep_in_a_large_csv_renumbers_without_doubling(tmp_path: Path,
                                                                   species_model) -> None:
    # pyarrow's threaded reader cannot number a wrong line: the file is read again
    # serially, skipping the batches already scored (csv.read).
    _, scorer, _ = species_model
    good = LINES * 60  # ~1 MB: several blocks and output batches
    body, rows = mixed(good, BAD_CSV, every=4000)
    clean, _ = score(tmp_path, "clean.csv", HEADER + b"".join(good), scorer)
    out, _ = score(tmp_path, "dirty.csv", HEADER + b"".join(body), scorer, budget=10)
    assert out.read_bytes() == clean.read_bytes()
    assert [e["row"] for e in errors(out)] == rows
    assert Path(f"{out}.quarantine").read_bytes() == HEADER + b"".join(BAD_CSV)


# The worker's path, on the in-memory store and queue.

def work(store, queue, settings) -> None:
    """One worker works the queue dry."""
    import dataclasses

    from arq_batch.models.store import ModelStore
    from arq_batch.worker.loop import Worker
    from arq_batch.worker.runner import JobRunner

    tuned = settings.replace(queue_settings=dataclasses.replace(
        settings.queue_settings, wait_time_seconds=0, backoff_base_seconds=0))
    Worker(queue, store, JobRunner(store, ModelStore(store, tuned), tuned, queue), tuned,
           concurrency=1, once=True).run()


def uri(key: str):
    from arq_batch.kernel.uris import S3Uri

    return S3Uri("arq-batch-s3", key)


def send(queue, key: str, budget: int) -> None:
    queue.send(json.dumps({"input": f"s3://arq-batch-s3/{key}", "max_bad_rows": budget}))


def records(store) -> list[dict]:
    return [json.loads(store.get_bytes(uri(k))) for k in store.list_keys(uri("data/jobs/"))]


def test_the_worker_quarantines_within_the_budget_and_the_ledger_counts_it(
        bucket, queue, settings, tiny_model) -> None:
    body, rows = mixed(LINES, BAD_CSV)
    bucket.put_bytes(uri("data/input/team/dirty.csv.gz"), gzip.compress(HEADER + b"".join(body)))
    bucket.put_bytes(uri("data/input/team/clean.csv"), HEADER + b"".join(LINES))
    send(queue, "data/input/team/dirty.csv.gz", 4)
    send(queue, "data/input/team/clean.csv", 4)
    work(bucket, queue, settings)
    assert gzip.decompress(bucket.get_bytes(uri("data/output/team/dirty.csv.gz"))) == \
        bucket.get_bytes(uri("data/output/team/clean.csv"))
    set_aside = bucket.get_bytes(uri("data/quarantine/team/dirty.csv.gz"))
    assert gzip.decompress(set_aside) == HEADER + b"".join(BAD_CSV)  # compressed like its input
    lines = bucket.get_bytes(uri("data/quarantine/team/dirty.csv.gz.errors.jsonl")).splitlines()
    assert [json.loads(line)["row"] for line in lines] == rows
    assert not list(bucket.list_keys(uri("data/quarantine/team/clean")))
    quarantined = {r["input"].rsplit("/", 1)[1]: r["rows_quarantined"] for r in records(bucket)}
    assert quarantined == {"dirty.csv.gz": 4, "clean.csv": 0}
    # A redelivered job is skipped: output and quarantine stay as they are.
    before = bucket.head(uri("data/quarantine/team/dirty.csv.gz"))
    send(queue, "data/input/team/dirty.csv.gz", 4)
    work(bucket, queue, settings)
    assert bucket.head(uri("data/quarantine/team/dirty.csv.gz")) == before


def test_over_the_budget_the_worker_leaves_no_output_and_reports_the_bad_rows(
        bucket, queue, settings, tiny_model) -> None:
    body, rows = mixed(LINES, BAD_CSV)
    bucket.put_bytes(uri("data/input/dirty.csv"), HEADER + b"".join(body))
    send(queue, "data/input/dirty.csv", 2)
    work(bucket, queue, settings)
    assert [m.body for m in queue.drain_dlq(30)]
    report = json.loads(bucket.get_bytes(uri("data/errors/dirty.csv.json")))
    assert report["error"] == "data_error" and report["detail"]["max_bad_rows"] == 2
    # The bad rows up to the batch that broke the budget (here all of them)
    assert [bad["row"] for bad in report["detail"]["bad_rows"]] == rows
    assert not list(bucket.list_keys(uri("data/output/")))
    assert not list(bucket.list_keys(uri("data/quarantine/")))


def test_a_job_that_fails_after_its_quarantine_committed_removes_it_and_a_retry_rewrites_it(
        bucket, queue, settings, tiny_model, monkeypatch) -> None:
    from arq_batch.kernel.errors import RetryableError
    from arq_batch.stores import memory

    body, rows = mixed(LINES, BAD_CSV)
    bucket.put_bytes(uri("data/input/dirty.csv"), HEADER + b"".join(body))
    commit = memory._Writer.close
    failures = []

    def fail_the_output_once(writer) -> None:  # the output commits after the quarantine
        if writer._uri.key.startswith("data/output/") and not failures:
            failures.append(writer._uri)
            assert list(bucket.list_keys(uri("data/quarantine/")))
            raise RetryableError("the output's commit failed")
        commit(writer)

    monkeypatch.setattr(memory._Writer, "close", fail_the_output_once)
    removed: list[str] = []
    delete = bucket.delete
    monkeypatch.setattr(bucket, "delete", lambda u: (removed.append(u.key), delete(u)))
    send(queue, "data/input/dirty.csv", 4)
    work(bucket, queue, settings)  # fails once, then the retry succeeds
    assert failures
    assert {"data/quarantine/dirty.csv", "data/quarantine/dirty.csv.errors.jsonl"} <= set(removed)
    assert bucket.get_bytes(uri("data/quarantine/dirty.csv")) == HEADER + b"".join(BAD_CSV)
    lines = bucket.get_bytes(uri("data/quarantine/dirty.csv.errors.jsonl")).splitlines()
    assert [json.loads(line)["row"] for line in lines] == rows  # written once, not twice
    assert sorted(r["outcome"] for r in records(bucket)) == ["done", "retry"]


def test_a_budget_comes_from_a_message_or_a_transform_request_environment() -> None:
    from arq_batch.engine.messages import Job
    from arq_batch.engine.transform_requests import parse_request
    from arq_batch.kernel.errors import PoisonMessage

    job = Job.from_dict({"input": "s3://arq-batch-s3/data/input/a.csv", "max_bad_rows": 3})
    assert job.max_bad_rows == 3 and Job.from_dict(job.to_dict()) == job
    for bad in (-1, "3", True, 1.5):
        with pytest.raises(PoisonMessage, match="max_bad_rows"):
            Job.from_dict({"input": "s3://arq-batch-s3/data/input/a.csv", "max_bad_rows": bad})
    # The budget changes what a request does: another budget is another request.
    other = Job.from_dict({"input": "s3://arq-batch-s3/data/input/a.csv", "max_bad_rows": 4})
    assert job.output_metadata("run", "etag") != other.output_metadata("run", "etag")
    request = {"TransformJobName": "t", "ModelName": "latest",
               "TransformInput": {"DataSource": {"S3DataSource": {
                   "S3DataType": "S3Prefix", "S3Uri": "s3://arq-batch-s3/data/input/"}}},
               "TransformOutput": {"S3OutputPath": "s3://arq-batch-s3/out/"},
               "Environment": {"MAX_BAD_ROWS": "5", "OMP_NUM_THREADS": "2"}}
    parsed = parse_request(request)
    assert parsed.max_bad_rows == 5
    assert parsed.warnings == ("Environment OMP_NUM_THREADS is ignored: only MAX_BAD_ROWS "
                               "means something here",)
    with pytest.raises(ValueError, match="MAX_BAD_ROWS must be a whole number"):
        parse_request(request | {"Environment": {"MAX_BAD_ROWS": "-1"}})


def split_job(queue, name: str, key: str, budget: int, split: int = 20_000) -> None:
    queue.send(json.dumps({"input": f"s3://arq-batch-s3/{key}", "job_id": name,
                           "output": f"s3://arq-batch-s3/{name}/out.csv",
                           "split_bytes": split, "max_bad_rows": budget}))


def predictions_rows(store, job: str) -> list[int]:
    (key,) = [k for k in store.list_keys(uri("data/predictions/")) if k.endswith(f"/{job}.parquet")]
    return pq.read_table(io.BytesIO(store.get_bytes(uri(key)))).column("row").to_pylist()


def test_a_split_job_counts_bad_rows_over_all_its_parts(bucket, queue, settings,
                                                        tiny_model) -> None:
    # Bad rows in several parts of ~20 kB; the same file scored whole is the reference.
    body, rows = mixed(LINES * 4, BAD_CSV, every=350)
    bucket.put_bytes(uri("staging/dirty.csv"), HEADER + b"".join(body))
    split_job(queue, "whole", "staging/dirty.csv", 4, split=0)
    split_job(queue, "split", "staging/dirty.csv", 4)
    work(bucket, queue, settings)
    assert bucket.get_bytes(uri("split/out.csv")) == bucket.get_bytes(uri("whole/out.csv"))
    assert bucket.get_bytes(uri("data/quarantine/staging/dirty.csv")) == \
        HEADER + b"".join(BAD_CSV)
    lines = bucket.get_bytes(uri("data/quarantine/staging/dirty.csv.errors.jsonl"))
    assert [json.loads(line)["row"] for line in lines.splitlines()] == rows
    # The predictions keep the input's own row numbers, skipping the bad ones.
    expected = [i for i in range(len(body)) if i not in rows]
    assert predictions_rows(bucket, "split") == predictions_rows(bucket, "whole") == expected
    done = {r["job_id"]: r for r in records(bucket) if r["outcome"] == "done"}
    assert done["split"]["rows_quarantined"] == done["whole"]["rows_quarantined"] == 4
    assert len([r for r in records(bucket) if r["outcome"] == "part"]) > 3
    assert not list(bucket.list_keys(uri("data/splits/")))


def test_a_split_job_over_its_budget_in_all_fails_and_leaves_no_quarantine(
        bucket, queue, settings, tiny_model) -> None:
    body, _ = mixed(LINES * 4, BAD_CSV, every=350)  # one bad row per part: each within 3
    bucket.put_bytes(uri("staging/dirty.csv"), HEADER + b"".join(body))
    split_job(queue, "split", "staging/dirty.csv", 3)
    work(bucket, queue, settings)
    assert not list(bucket.list_keys(uri("split/")))
    assert not list(bucket.list_keys(uri("data/quarantine/")))
    assert not list(bucket.list_keys(uri("data/splits/")))
    report = json.loads(bucket.get_bytes(uri("data/errors/staging/dirty.csv.json")))
    assert report["detail"]["max_bad_rows"] == 3 and len(report["detail"]["bad_rows"]) == 4


@pytest.mark.parametrize(("media", "body"), [
    ("application/json", b'{"instances": [{"features": [39.1, 18.7, 1e400, 3750, 2007]}]}'),
    ("text/csv", b"39.1,18.7,-inf,3750,2007\n"),
    ("application/jsonlines", b'{"bill_length_mm": 39.1, "bill_depth_mm": 18.7, '
                              b'"flipper_length_mm": Infinity, "body_mass_g": 3750, '
                              b'"year": 2007}\n'),
])
def test_the_endpoint_answers_400_naming_a_non_finite_feature(numeric_species_model, media: str,
                                                              body: bytes) -> None:
    from arq_batch.serving.invocations import RequestError, invocations

    _, scorer, _, card = numeric_species_model
    with pytest.raises(RequestError) as refused:
        invocations(body, media, "application/json", scorer, card.feature_names)
    assert refused.value.status == 400 and "flipper_length_mm" in str(refused.value)
    assert "not a finite number" in str(refused.value)


@pytest.mark.parametrize("where", [300, 15_000])  # in the first block, and far past it
def test_a_row_longer_than_a_row_may_be_is_a_bad_row_within_the_budget(
        tmp_path: Path, species_model, where: int) -> None:
    # pyarrow stops at a row longer than its block; the file is read again without it.
    _, scorer, _ = species_model
    long = b'Adelie,Torgersen,"' + b"x" * 600_000 + b'",18.7,181,3750,male,2007\n'
    bad = (BAD_CSV[1], long, BAD_CSV[0])
    body, rows = mixed(LINES * 60, bad, every=where)
    clean, _ = score(tmp_path, "clean.csv", HEADER + b"".join(LINES * 60), scorer)
    out, _ = score(tmp_path, "dirty.csv", HEADER + b"".join(body), scorer, budget=3)
    assert out.read_bytes() == clean.read_bytes()
    assert [e["row"] for e in errors(out)] == rows
    assert "longer than" in errors(out)[1]["reason"]
    assert Path(f"{out}.quarantine").read_bytes() == HEADER + b"".join(bad)
    only_long, _ = mixed(LINES * 60, (long,), every=where)
    with pytest.raises(DataError, match="longer than"):  # without a budget: fatal, as before
        score(tmp_path, "again.csv", HEADER + b"".join(only_long), scorer)


def test_a_split_parquet_job_sets_aside_bad_values_from_several_parts(
        bucket, queue, settings, tiny_model, species_fit) -> None:
    _, _, x = species_fit
    table = pa.Table.from_pandas(x.head(300), preserve_index=False)
    lengths = table.column("bill_length_mm").to_pylist()
    rows = [10, 150, 290]
    for row in rows:
        lengths[row] = float("inf")
    dirty = table.set_column(table.schema.get_field_index("bill_length_mm"), "bill_length_mm",
                             pa.array(lengths))
    sink = io.BytesIO()
    pq.write_table(dirty, sink, row_group_size=50)  # six row groups: parts of ~2 each
    bucket.put_bytes(uri("staging/dirty.parquet"), sink.getvalue())
    for name, split in (("whole", 0), ("split", 3_000)):
        queue.send(json.dumps({"input": "s3://arq-batch-s3/staging/dirty.parquet",
                               "job_id": name, "output": f"s3://arq-batch-s3/{name}/o.parquet",
                               "split_bytes": split, "max_bad_rows": 3}))
    work(bucket, queue, settings)
    whole = pq.read_table(io.BytesIO(bucket.get_bytes(uri("whole/o.parquet"))))
    assert pq.read_table(io.BytesIO(bucket.get_bytes(uri("split/o.parquet")))).equals(whole)
    assert len([r for r in records(bucket) if r["outcome"] == "part"]) > 1
    set_aside = pq.read_table(io.BytesIO(bucket.get_bytes(uri("data/quarantine/staging/"
                                                              "dirty.parquet"))))
    assert set_aside.equals(dirty.take(rows))
    lines = bucket.get_bytes(uri("data/quarantine/staging/dirty.parquet.errors.jsonl"))
    assert [json.loads(line)["row"] for line in lines.splitlines()] == rows
    expected = [i for i in range(300) if i not in rows]
    assert predictions_rows(bucket, "split") == predictions_rows(bucket, "whole") == expected


def test_two_inputs_never_share_a_quarantine_key(bucket, queue, settings, tiny_model) -> None:
    # data/input/a.csv and a.csv have the same relative path, so the same quarantine key.
    body, _ = mixed(LINES, BAD_CSV[:1])
    for key in ("data/input/a.csv", "a.csv"):
        bucket.put_bytes(uri(key), HEADER + b"".join(body))
        queue.send(json.dumps({"input": f"s3://arq-batch-s3/{key}", "max_bad_rows": 1,
                               "output": f"s3://arq-batch-s3/out/{key.replace('/', '-')}"}))
    work(bucket, queue, settings)
    outcomes = {r["input"]: r["outcome"] for r in records(bucket)}
    assert outcomes == {"s3://arq-batch-s3/data/input/a.csv": "done",
                        "s3://arq-batch-s3/a.csv": "dead"}
    report = json.loads(bucket.get_bytes(uri("data/errors/a.csv.json")))
    assert report["error"] == "output_not_allowed" and "another input" in report["detail"]
    assert not list(bucket.list_keys(uri("out/a.csv")))  # its output was never committed
