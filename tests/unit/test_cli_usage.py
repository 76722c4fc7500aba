"""Bad usage exits 2 with one line, whichever command and however it is wrong."""

from __future__ import annotations

import pytest

from arq_batch.cli.main import main


@pytest.mark.parametrize(("argv", "words"), [
    (["monitor", "report", "--run", "r", "--since", "last week"], "not a date (YYYY-MM-DD)"),
    (["monitor", "report"], "the following arguments are required: --run"),
    (["monitor", "chart", "--run", "r"], "invalid choice: 'chart'"),
    (["send"], "the following arguments are required: INPUT_URI"),
    (["train", "--data", "x", "--target", "y", "--num-models", "many"], "invalid int value"),
    (["no-such-command"], "invalid choice: 'no-such-command'"),
])
def test_argument_errors_are_one_line_and_exit_2(argv, words, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert len(err.strip().splitlines()) == 1 and words in err, err
