"""Run Python in a child process and read its own peak RSS (VmHWM) as it exits.

``wait4``'s ``ru_maxrss`` is no use here: Linux carries the parent's high-water mark into a
forked child across ``exec``, so every child of a large test or benchmark process would
report at least the parent's size. VmHWM belongs to the new process image alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

WRAPPER = """
import atexit, runpy, sys
out, kind, what = sys.argv[1:4]
def peak():
    with open('/proc/self/status') as status, open(out, 'w') as sink:
        sink.write(next(line for line in status if line.startswith('VmHWM')))
atexit.register(peak)
sys.argv = [what, *sys.argv[4:]]
if kind == '-m':
    runpy.run_module(what, run_name='__main__', alter_sys=True)
else:
    exec(compile(what, '<measured>', 'exec'), {'__name__': '__main__'})
"""


def run_measured(python_args: list[str], env: dict[str, str] | None = None,
                 ) -> tuple[subprocess.CompletedProcess[str], float]:
    """``python -m MODULE ...`` or ``python -c CODE ...``: the finished process and its
    peak RSS in MB."""
    with tempfile.TemporaryDirectory() as folder:
        sink = Path(folder) / "peak"
        done = subprocess.run([sys.executable, "-c", WRAPPER, str(sink), *python_args],
                              capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, timeout=3600)
        text = sink.read_text() if sink.exists() else "VmHWM: 0 kB"
    return done, int(text.split()[1]) / 1024
