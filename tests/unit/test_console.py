"""The console's changes on in-memory adapters: no POST changes anything without the
token, every change made with it is audited, sessions and CSRF fields hold."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from arq_batch.console.app import Console, create_app
from arq_batch.console.audit import AuditLog
from arq_batch.console.guard import SESSION_COOKIE, Guard
from arq_batch.console.source import Source
from arq_batch.feeders.dlq import list_dead_letters
from arq_batch.kernel import layout
from arq_batch.kernel.uris import S3Uri
from arq_batch.models.store import ModelStore

from .. import stories

TOKEN = "s3cret-token-for-tests"


def no_sql():
    raise AssertionError("a change must not need the query engine")


def make_console(settings, bucket, queue, token: str | None = TOKEN) -> Console:
    return Console(settings, bucket, queue, ModelStore(bucket, settings),
                   Source(no_sql, settings.console),
                   Guard(token, settings.console.session_hours * 3600),
                   AuditLog(bucket, settings.bucket, settings.prefixes.audit))


@pytest.fixture
def two_runs(bucket, settings, species_fit) -> tuple[str, str]:
    """Run A promoted, then run B promoted over it: B is the champion, A the one before."""
    first = stories.publish_model(bucket, settings, species_fit, run_id="run-a")
    second = stories.publish_model(bucket, settings, species_fit, run_id="run-b")
    return first, second


@pytest.fixture
def dead_letter(queue) -> str:
    """One message in the dead-letter queue."""
    queue.send(json.dumps({"input": "s3://arq-batch-s3/data/input/a.csv"}))
    (message,) = queue.receive(1, 0)
    queue.dead_letter(message, "data_error: bad cell")
    (letter,) = list_dead_letters(queue)
    return letter.message_id


def state(bucket, settings, queue) -> tuple[bytes, dict[str, int], dict[str, int], list[str]]:
    """What any change would alter: latest.json, both queues, the audit trail."""
    latest = bucket.get_bytes(layout.latest_uri(settings.bucket, settings.prefixes))
    audit = list(bucket.list_keys(S3Uri(settings.bucket, settings.prefixes.audit)))
    return latest, queue.depth(), queue.depth(dead_letters=True), audit


ACTIONS = {  # path -> the form that would make the change at once
    "promote": ("/models/promote", {"run_id": "run-a", "confirm": "yes"}),
    "rollback": ("/models/rollback", {"confirm": "yes"}),
    "redrive one": ("/dlq/redrive", {"message_id": "{message}"}),
    "redrive all": ("/dlq/redrive", {}),
}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("attempt", ["no credentials", "wrong bearer", "basic auth",
                                     "cookie without csrf", "cookie with a wrong csrf",
                                     "forged cookie", "console without a token"])
def test_no_post_changes_anything_without_the_token(
        bucket, settings, queue, two_runs, dead_letter, action, attempt) -> None:
    # Given a console, two runs (B the champion) and a dead letter
    console = make_console(settings, bucket, queue,
                           None if attempt == "console without a token" else TOKEN)
    client = TestClient(create_app(console))
    path, form = ACTIONS[action]
    form = {k: v.replace("{message}", dead_letter) for k, v in form.items()}
    headers: dict[str, str] = {}
    if attempt == "wrong bearer":
        headers["authorization"] = "Bearer not-the-token"
    elif attempt == "basic auth":
        headers["authorization"] = "Basic " + TOKEN
    elif attempt == "console without a token":
        headers["authorization"] = f"Bearer {TOKEN}"
    elif attempt == "forged cookie":
        client.cookies.set(SESSION_COOKIE, "nonce.9999999999.deadbeef")
        form["csrf"] = "deadbeef"
    elif attempt.startswith("cookie"):
        client.post("/signin", data={"token": TOKEN}, follow_redirects=False)
        if attempt == "cookie with a wrong csrf":
            form["csrf"] = "0" * 64
    before = state(bucket, settings, queue)
    # When the change is posted that way
    answer = client.post(path, data=form, headers=headers, follow_redirects=False)
    # Then it is refused, and nothing changed: no model move, no message moved, no record
    assert answer.status_code in (401, 403), answer.text
    assert state(bucket, settings, queue) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_each_change_with_the_bearer_token_happens_and_is_audited(
        bucket, settings, queue, two_runs, dead_letter, action) -> None:
    client = TestClient(create_app(make_console(settings, bucket, queue)))
    path, form = ACTIONS[action]
    form = {k: v.replace("{message}", dead_letter) for k, v in form.items()}
    latest_before, *_ = state(bucket, settings, queue)
    answer = client.post(path, data=form, headers={"authorization": f"Bearer {TOKEN}"},
                         follow_redirects=False)
    assert answer.status_code == 200, answer.text
    latest, depth, dead, audit = state(bucket, settings, queue)
    if action in ("promote", "rollback"):
        assert json.loads(latest)["run_id"] == "run-a" != json.loads(latest_before)["run_id"]
    else:
        assert (depth["visible"], dead["visible"]) == (1, 0)
    (key,) = audit
    record = json.loads(bucket.get_bytes(S3Uri(settings.bucket, key)))
    assert record["action"] == action.replace(" one", "").replace(" all", "-all")
    assert record["actor"] == "bearer token" and record["source"] == "testclient"
    assert "Recorded in the audit trail" in answer.text


def test_a_model_move_asks_first_and_a_session_with_its_csrf_field_makes_it(
        bucket, settings, queue, two_runs) -> None:
    client = TestClient(create_app(make_console(settings, bucket, queue)))
    signin = client.post("/signin", data={"token": TOKEN, "next": "/models"},
                         follow_redirects=False)
    assert signin.status_code == 303 and signin.headers["location"] == "/models"
    assert "httponly" in signin.headers["set-cookie"].lower()
    assert "samesite=strict" in signin.headers["set-cookie"].lower()
    page = client.get("/models").text
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found and TOKEN not in page and TOKEN not in signin.headers["set-cookie"]
    csrf = found.group(1)
    # The first post only asks
    asked = client.post("/models/promote", data={"run_id": "run-a", "csrf": csrf})
    assert asked.status_code == 200 and "Point latest.json at run run-a?" in asked.text
    assert json.loads(bucket.get_bytes(layout.latest_uri(settings.bucket, settings.prefixes))
                      )["run_id"] == "run-b"
    # ... the confirmation makes the move
    done = client.post("/models/promote", data={"run_id": "run-a", "csrf": csrf,
                                                "confirm": "yes"})
    assert done.status_code == 200 and "run-b -&gt; run-a" in done.text
    assert json.loads(bucket.get_bytes(layout.latest_uri(settings.bucket, settings.prefixes))
                      )["run_id"] == "run-a"



def test_a_session_expires_and_a_tampered_cookie_or_field_is_refused() -> None:
    now = [1_000_000.0]
    guard = Guard(TOKEN, 3600, clock=lambda: now[0])
    cookie = guard.new_session()
    assert guard.session_ok(cookie) and TOKEN not in cookie
    nonce, expiry, signature = cookie.split(".")
    assert not guard.session_ok(f"{nonce}.{int(expiry) + 3600}.{signature}")  # extended
    assert not Guard("another-token", 3600).session_ok(cookie)  # a rotated token
    csrf = guard.csrf_for(cookie)
    assert guard.authorize({}, {SESSION_COOKIE: cookie}, csrf).allowed
    tampered = csrf[:-1] + ("1" if csrf.endswith("0") else "0")
    assert not guard.authorize({}, {SESSION_COOKIE: cookie}, tampered).allowed
    now[0] += 3601
    assert guard.authorize({}, {SESSION_COOKIE: cookie}, csrf).status == 401


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example", "https://evil.example/",
                                    "javascript:alert(1)", ""])
def test_sign_in_never_redirects_off_the_site(bucket, settings, queue, target) -> None:
    client = TestClient(create_app(make_console(settings, bucket, queue)))
    answer = client.post("/signin", data={"token": TOKEN, "next": target},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_a_wrong_token_at_sign_in_sets_no_cookie(bucket, settings, queue) -> None:
    client = TestClient(create_app(make_console(settings, bucket, queue)))
    answer = client.post("/signin", data={"token": "guess"}, follow_redirects=False)
    assert answer.status_code == 401 and "set-cookie" not in answer.headers


@pytest.mark.parametrize("argv", [["console", "--host", "0.0.0.0"],
                                  ["console", "--host", "10.1.2.3", "--port", "8090"],
                                  ["console", "--host", "console.internal"],
                                  ["console", "--port", "70000"], ["console", "--port", "x"]])
def test_console_refuses_a_non_loopback_host_without_a_token_and_bad_ports(
        argv, monkeypatch, capsys) -> None:
    from arq_batch.cli.main import main

    monkeypatch.delenv("ARQ_BATCH_CONSOLE_TOKEN", raising=False)
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1


def test_pages_carry_a_content_policy_and_no_page_needs_a_script_from_elsewhere(
        bucket, settings, queue, two_runs) -> None:
    client = TestClient(create_app(make_console(settings, bucket, queue)))
    answer = client.get("/models")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r'(src|href)="(https?:)?//', answer.text)  # nothing off-site
    assert client.get("/static/console.js").status_code == 200
    assert client.get("/healthz").text == "ok\n"


def test_running_jobs_stream_as_server_sent_events(bucket, settings, queue) -> None:
    import time

    from arq_batch.engine.progress import JobProgress

    now = time.time()
    job = JobProgress("job-<1>", "s3://arq-batch-s3/data/input/a.csv", "w1", now - 10, now,
                      500, 1000, 4000)
    bucket.put_bytes(layout.progress_uri(settings.bucket, settings.prefixes, job.job_id),
                     job.to_json())
    client = TestClient(create_app(make_console(settings, bucket, queue)))
    with client.stream("GET", "/events/progress") as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        lines = answer.iter_lines()
        assert next(lines) == "event: progress"
        (shown,) = json.loads(next(lines).removeprefix("data: "))
    assert (shown["job_id"], shown["rows"], shown["percent"]) == ("job-<1>", 500, 25.0)
    assert shown["eta_seconds"] == pytest.approx(30.0, abs=1.0)


def test_a_store_that_fails_gives_a_page_that_says_so(bucket, settings, queue) -> None:
    from arq_batch.kernel.errors import RetryableError

    def unreachable():
        raise RetryableError("the bucket did not answer")

    console = make_console(settings, bucket, queue)
    console = Console(**{**console.__dict__, "source": Source(unreachable, settings.console)})
    answer = TestClient(create_app(console)).get("/jobs")
    assert answer.status_code == 503 and "the bucket did not answer" in answer.text
