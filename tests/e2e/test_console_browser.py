"""The console in a real browser (Debian's chromium): every page loads without script
errors and is saved for docs/console.md; filters work; a running job's progress advances
with no reload; redrive, promote and rollback work from the page, and only with the token."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from arq_batch.kernel import layout
from arq_batch.kernel.settings import load_settings

from .browser import ConsoleProcess, chromium, screenshot, script_errors
from .conftest import cli
from .helpers import (
    BUCKET,
    DLQ,
    big_job,
    penguins_csv,
    provision_and_train,
    queue_depth,
    queue_url,
)

pytestmark = pytest.mark.browser
TOKEN = "browser-test-token"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


@pytest.fixture
def console(config_file: Callable[..., Path], tmp_path: Path,
            browser: Any) -> Iterator[Callable[[], ConsoleProcess]]:
    """Start the console once the test has set the scene; a fresh browser session."""
    started: list[ConsoleProcess] = []
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})  # every site's, not one

    def start() -> ConsoleProcess:
        started.append(ConsoleProcess(TOKEN, tmp_path / "console.log"))
        return started[-1]

    yield start
    browser.get("about:blank")  # close the page's event stream before its server goes
    script_errors(browser)
    for process in started:
        process.stop()


def visit(browser: Any, url: str) -> None:
    """Load a page; it must log no error (a script error, a missing asset)."""
    browser.get(url)
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return document.readyState") == "complete")
    assert script_errors(browser) == [], url


def press(browser: Any, css: str) -> None:
    """Click a button and wait for the page its form leads to."""
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, css).click()
    WebDriverWait(browser, 15).until(lambda d: _gone(page))
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def _gone(element: Any) -> bool:
    """Whether the page ``element`` belonged to has been replaced. Selenium's
    ``staleness_of`` knows one way chromedriver says so; while a navigation is under way
    it can also answer "Node with given id does not belong to the document" (a CI run
    under load saw it)."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


def latest_run(s3: Any) -> str:
    key = layout.latest_uri(BUCKET, load_settings().prefixes).key
    return str(json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())["run_id"])


def sign_in(browser: Any, url: str) -> None:
    visit(browser, f"{url}/signin?next=/models")
    browser.find_element(By.NAME, "token").send_keys(TOKEN)
    press(browser, "form[action='/signin'] button")
    assert browser.current_url.endswith("/models")


def in_kilograms() -> bytes:
    """The penguins with body mass in kg, not g: a drift the monitoring page shows."""
    header, *rows = penguins_csv().decode().splitlines()
    mass = header.split(",").index("body_mass_g")
    cells = [row.split(",") for row in rows]
    for row in cells:
        if row[mass].replace(".", "").isdigit():
            row[mass] = str(float(row[mass]) / 1000)
    return "\n".join([header, *(",".join(row) for row in cells)]).encode() + b"\n"


def test_every_page_loads_without_errors_and_filters_narrow_the_jobs(
        s3, sqs, console, browser) -> None:
    # Given two trained runs, good inputs, a bad one and a poison message (the uploads'
    # S3 events are the jobs)
    provision_and_train("sex")
    run = provision_and_train("species")
    for i in range(3):
        s3.put_object(Bucket=BUCKET, Key=f"data/input/day-{i}/penguins.csv",
                      Body=penguins_csv(3 + i))
    s3.put_object(Bucket=BUCKET, Key="data/input/broken.csv",
                  Body=penguins_csv().replace(b"39.1", b"thirty-nine", 1))
    s3.put_object(Bucket=BUCKET, Key="data/input/in-kilograms.csv", Body=in_kilograms())
    sqs.send_message(QueueUrl=queue_url(sqs), MessageBody="not a job")
    cli("worker", "--once")
    url = console().url
    # When each page is opened, it loads with no error, and is saved for the docs
    dead = cli("query", "SELECT job_id FROM jobs WHERE outcome = 'dead' AND input LIKE "
                        "'%broken%'", "--json")
    dead_job = json.loads(dead.stdout)["rows"][0]["job_id"]
    for name, path in (("overview", "/"), ("jobs", "/jobs"), ("job", f"/jobs/{dead_job}"),
                       ("models", "/models"), ("monitoring", "/monitoring"), ("dlq", "/dlq"),
                       ("query", "/query?sql=SELECT+outcome,+count(*)+AS+jobs,+sum(rows)+AS"
                                 "+rows+FROM+jobs+GROUP+BY+ALL+ORDER+BY+ALL"),
                       ("report", f"/models/{run}/report"), ("signin", "/signin")):
        visit(browser, url + path)
        screenshot(browser, name)
    # Then the outcome filter leaves only dead jobs, and the text filter only matching inputs
    visit(browser, f"{url}/jobs")
    Select(browser.find_element(By.NAME, "outcome")).select_by_value("dead")
    press(browser, "form.filters button")
    assert "outcome=dead" in browser.current_url
    outcomes = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#jobs .badge")]
    assert outcomes and set(outcomes) == {"dead"}
    visit(browser, f"{url}/jobs")
    browser.find_element(By.NAME, "q").send_keys("broken")
    press(browser, "form.filters button")
    assert "q=broken" in browser.current_url
    inputs = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#jobs td code")]
    assert inputs and all("broken" in i for i in inputs)


def test_a_running_jobs_progress_advances_without_a_reload(
        s3, config_file, console, browser, start_worker) -> None:
    # Given progress published every 0.3 s and a job of several seconds on a worker
    config_file(progress={"interval_seconds": 0.3})
    provision_and_train()
    big_job(s3, copies=8000)
    url = console().url
    start_worker()
    visit(browser, f"{url}/jobs?outcome=running")
    browser.execute_script("window.sameDocument = true")
    # When the page is left open, its row appears and its rows-so-far grow
    rows_so_far = "#running tr[data-job] [data-field=rows]"

    def rows() -> int:  # read in the page in one step: the script replaces rows as we look
        text = browser.execute_script(
            "const cell = document.querySelector(arguments[0]);"
            "return cell ? cell.textContent : '0';", rows_so_far)
        return int(text.replace(",", ""))

    WebDriverWait(browser, 60, 0.1).until(lambda d: rows() > 0)
    first = rows()
    WebDriverWait(browser, 60, 0.1).until(lambda d: rows() > first)
    screenshot(browser, "jobs-running")
    # Then it did so in the same document (no reload), from the server's events
    assert browser.execute_script("return window.sameDocument") is True
    assert int(browser.find_element(By.ID, "running").get_attribute("data-updates")) >= 2
    assert script_errors(browser) == []


def test_redrive_from_the_page_moves_the_message_back(sqs, config_file, console,
                                                       browser) -> None:
    # Given a dead letter
    provision_and_train()
    sqs.send_message(QueueUrl=queue_url(sqs, DLQ), MessageBody='{"input": "s3://arq-batch-s3/data/input/x.csv"}')
    url = console().url
    waiting = queue_depth(sqs)  # S3's test event, from provisioning
    # When an operator who is not signed in presses Redrive, nothing moves
    visit(browser, f"{url}/dlq")
    press(browser, "#letters form button")
    assert "Not allowed" in browser.find_element(By.TAG_NAME, "h1").text
    script_errors(browser)  # the 401 itself is logged as a failed load
    assert queue_depth(sqs, DLQ) == 1 and queue_depth(sqs) == waiting
    # ... and once signed in, it goes back to the job queue
    sign_in(browser, url)
    visit(browser, f"{url}/dlq")
    press(browser, "#letters form button")
    assert "1 message(s) moved" in browser.find_element(By.ID, "result").text
    assert queue_depth(sqs, DLQ) == 0 and queue_depth(sqs) == waiting + 1


def test_promote_and_rollback_change_latest_json_only_with_the_token(
        s3, config_file, console, browser) -> None:
    # Given two runs, the second the champion
    first, second = provision_and_train("species"), provision_and_train("sex")
    assert latest_run(s3) == second
    url = console().url
    promote = f"#run-{first} form[action='/models/promote'] button"
    # Without signing in, promoting is refused and latest.json stays
    visit(browser, f"{url}/models")
    press(browser, promote)
    assert "Not allowed" in browser.find_element(By.TAG_NAME, "h1").text
    script_errors(browser)
    assert latest_run(s3) == second
    # Signed in: promote asks, then moves latest.json
    sign_in(browser, url)
    press(browser, promote)
    assert f"run {first}?" in browser.find_element(By.TAG_NAME, "main").text
    assert latest_run(s3) == second
    press(browser, "#confirm")
    assert f"-> {first}" in browser.find_element(By.ID, "result").text
    assert latest_run(s3) == first
    # ... and rollback goes back to the run before
    visit(browser, f"{url}/models")
    press(browser, "form[action='/models/rollback'] button")
    press(browser, "#confirm")
    assert latest_run(s3) == second
    visit(browser, f"{url}/")
    assert "rollback" in browser.find_element(By.CSS_SELECTOR, "table.audit").text
