"""Settings from YAML + environment, and exit code 2 for bad configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from arq_batch import wiring
from arq_batch.cli.main import main
from arq_batch.kernel.errors import ConfigError
from arq_batch.kernel.settings import load_settings


def test_defaults_match_the_contract() -> None:
    settings = load_settings({})
    assert (settings.bucket, settings.queue, settings.dlq_name) == (
        "arq-batch-s3", "arq-batch-sqs", "arq-batch-sqs-dlq")
    assert settings.queue_settings.max_receive_count == 3


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("bucket: from-file\nqueue: q-file\n")
    settings = load_settings({"ARQ_BATCH_CONFIG": str(config), "ARQ_BATCH_BUCKET": "from-env",
                              "ARQ_BATCH_DLQ": "dead"})
    assert (settings.bucket, settings.queue, settings.dlq_name) == ("from-env", "q-file", "dead")


def test_nested_sections_are_typed(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("worker:\n  concurrency: 4\n  grace_seconds: 10\n")
    settings = load_settings({"ARQ_BATCH_CONFIG": str(config)})
    assert settings.worker.concurrency == 4 and settings.worker.grace_seconds == 10.0


@pytest.mark.parametrize(("text", "named"), [
    ("buckett: typo\n", "buckett"),
    ("worker:\n  concurency: 3\n", "concurency"),
    ("worker:\n  concurrency: lots\n", "concurrency"),
    ("queue_settings:\n  visibility_timeout: true\n", "visibility_timeout"),
    ("bucket: ''\n", "bucket"),
    ("s3:\n  addressing_style: vhost\n", "addressing_style"),
])
def test_bad_config_exits_2_with_one_clear_line(
    text: str, named: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    monkeypatch.setenv("ARQ_BATCH_CONFIG", str(config))
    assert main(["provision"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err and "configuration error" in err


def test_missing_config_file_named_by_env_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({"ARQ_BATCH_CONFIG": str(tmp_path / "nope.yaml")})


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_the_addressing_style_reaches_boto3_and_duckdb(style: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from arq_batch.aws.clients import s3_connection

    config = tmp_path / "c.yaml"
    config.write_text(f"s3:\n  addressing_style: {style}\n")
    settings = load_settings({"ARQ_BATCH_CONFIG": str(config)})
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = wiring.object_store(settings)._s3
    assert client.meta.config.s3["addressing_style"] == style
    assert client.meta.endpoint_url == "http://127.0.0.1:9"  # S3's own variable
    connection = s3_connection(settings.s3.addressing_style)
    assert (connection.endpoint, connection.url_style) == (
        "127.0.0.1:9", "vhost" if style == "virtual" else "path")
