"""The real-time endpoint through boto3's own sagemaker-runtime client."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pyarrow.csv as pacsv
import pytest
import uvicorn
from botocore.config import Config

from arq_batch.aws.emulator import free_port
from arq_batch.aws.s3 import S3Store
from arq_batch.kernel.settings import ServeSettings, load_settings
from arq_batch.models.store import ModelStore
from arq_batch.serving import lifecycle
from arq_batch.serving.app import server_config

from ..conftest import PENGUINS, run
from .helpers import provision_and_train

BODY_TIMEOUT = 2.0
SAMPLE = ["Biscoe", 48.6, 16.0, 230, 5800, "male", 2008]  # model.json feature order


@pytest.fixture
def model(config_file) -> Any:
    provision_and_train("species")
    settings = load_settings()
    return ModelStore(S3Store(settings.encryption), settings).get()


@pytest.fixture
def server(model) -> Iterator[str]:
    """Our app on uvicorn in a thread, on a free port."""
    port = free_port()
    settings = ServeSettings(max_body_bytes=64 * 1024, body_timeout_seconds=BODY_TIMEOUT)
    instance = uvicorn.Server(server_config(model, settings, "127.0.0.1", port))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    while not instance.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)


@pytest.fixture
def runtime(server: str) -> Any:
    return boto3.client("sagemaker-runtime", endpoint_url=server, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 0}))


def invoke(runtime: Any, body: str, content_type: str, accept: str = "application/json") -> Any:
    response = runtime.invoke_endpoint(EndpointName="penguins", Body=body.encode(),
                                       ContentType=content_type, Accept=accept,
                                       CustomAttributes="ignored=yes")
    return response["Body"].read().decode()


def test_ping_answers_once_the_model_is_loaded(server: str) -> None:
    with urllib.request.urlopen(f"{server}/ping") as response:
        assert response.status == 200


def test_csv_json_and_jsonlines_give_the_same_predictions(runtime, model) -> None:
    csv_answer = json.loads(invoke(runtime, ",".join(map(str, SAMPLE)), "text/csv"))
    named = dict(zip([f.name for f in model.card.features], SAMPLE, strict=True))
    json_answer = json.loads(invoke(runtime, json.dumps(
        {"instances": [{"features": SAMPLE}, named]}), "application/json"))
    lines = invoke(runtime, json.dumps({"features": SAMPLE}) + "\n", "application/jsonlines",
                   accept="application/jsonlines")
    (first,) = csv_answer["predictions"]
    assert json_answer["predictions"] == [first, first]
    assert json.loads(lines) == first
    assert first["predicted_label"] == "Gentoo" and len(first["score"]) == 3
    assert abs(sum(first["score"]) - 1) < 1e-9


def test_predictions_equal_the_batch_workers(runtime, model, tmp_path) -> None:
    rows = PENGUINS.read_text().splitlines()[1:21]
    order = [f.name for f in model.card.features]
    header = PENGUINS.read_text().splitlines()[0].split(",")
    body = "\n".join(",".join(r.split(",")[header.index(n)] for n in order) for r in rows)
    online = json.loads(invoke(runtime, body, "text/csv"))["predictions"]
    csv = "\n".join([",".join(header), *rows]) + "\n"
    batch = pacsv.read_csv(run(tmp_path, "in.csv", csv.encode(), model.scorer))
    assert [p["predicted_label"] for p in online] == batch["predicted_label"].to_pylist()
    assert [max(p["score"]) for p in online] == pytest.approx(batch["score"].to_pylist(),
                                                              rel=1e-12)


@pytest.mark.parametrize(("body", "content_type", "status", "words"), [
    ("Biscoe,48.6", "text/csv", 400, "expected 7 values"),
    ('{"instances": [{"island": "Biscoe", "colour": "red"}]}', "application/json", 400,
     "unknown column"),
    ("Biscoe,forty,16.0,230,5800,male,2008", "text/csv", 400, "'forty' is not a number"),
    ("", "text/csv", 400, "empty request body"),
    ('{"instances": [', "application/json", 400, "malformed"),
    ("<xml/>", "application/xml", 415, "unsupported content type"),
    ("x" * (64 * 1024 + 1), "text/csv", 413, "exceeds"),
])
def test_bad_requests_get_their_status_and_the_server_keeps_serving(
    server: str, body: str, content_type: str, status: int, words: str,
) -> None:
    request = urllib.request.Request(f"{server}/invocations", data=body.encode(), method="POST",
                                     headers={"Content-Type": content_type})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == status
    assert words in json.loads(caught.value.read())["error"]
    with urllib.request.urlopen(f"{server}/ping") as response:
        assert response.status == 200


def test_the_lifecycle_leaves_no_process_or_port_behind(model) -> None:
    created = lifecycle.create("lifecycle-test")
    port = int(created.url.rsplit(":", 1)[1])
    answer = json.loads(lifecycle.invoke(created, ",".join(map(str, SAMPLE)).encode(), "text/csv"))
    assert answer["predictions"][0]["predicted_label"] == "Gentoo"
    lifecycle.delete("lifecycle-test")
    with pytest.raises(ProcessLookupError):
        os.kill(created.pid, 0)
    with pytest.raises(ConnectionRefusedError):  # nothing listens there any more
        socket.create_connection(("127.0.0.1", port), timeout=2)
    with socket.socket() as sock:  # and a new server can take the port (TIME_WAIT aside)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()


def slow_client(server: str, kind: str) -> socket.socket:
    """A connection that sends part of a request and then nothing: headers or body."""
    host, port = server.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    if kind == "headers":
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-")
    else:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                     b"Content-Length: 1000\r\n\r\nBiscoe,48.6")
    return sock


def timed_requests(server: str, count: int) -> list[float]:
    row = ",".join(map(str, SAMPLE)).encode()
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        request = urllib.request.Request(f"{server}/invocations", data=row, method="POST",
                                         headers={"Content-Type": "text/csv"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        seconds.append(time.perf_counter() - started)
    return sorted(seconds)


def test_fifty_slow_clients_do_not_hold_up_normal_requests(server: str) -> None:
    """25 clients trickle headers, 25 stop mid-body: every normal request is still answered,
    and each stalled body gets 408 once the body timeout has passed."""
    before = timed_requests(server, 40)
    slow = [slow_client(server, "headers" if i % 2 else "body") for i in range(50)]
    during = timed_requests(server, 40)
    print(f"median latency: {before[20] * 1000:.1f} ms alone, {during[20] * 1000:.1f} ms "
          f"beside 50 slow clients")
    time.sleep(BODY_TIMEOUT + 0.5)
    for sock in slow[0::2]:  # the stalled bodies
        sock.settimeout(5)
        assert sock.recv(200).startswith(b"HTTP/1.1 408 ")
    assert len(timed_requests(server, 5)) == 5
    for sock in slow:
        sock.close()
