"""The README's quick start works as written: kmsd started with nothing but its defaults (no
bootstrap variables), the credentials read from the file it names, the Python snippet run
unchanged except for the port."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
from pathlib import Path

from conftest import KMSD_BIN, REPO, READY_LINE


def quick_start_snippet() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Quick start"):]
    section = section[:section.index("\n## ", 1)]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the quick start has a Python snippet"
    return match.group(1)


def test_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    kmsd = str(Path(KMSD_BIN).with_name("kmsd"))  # also when KMSD_BIN is kms-cluster
    env = {k: v for k, v in os.environ.items() if not k.startswith("KMSD_")}
    stderr_path = tmp_path / "stderr.log"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen([kmsd, "--listen", "127.0.0.1:0"], cwd=tmp_path, env=env,
                                   stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        ready = READY_LINE.match(process.stdout.readline().strip())
        assert ready, stderr_path.read_text()
        addr = ready.group(1).removeprefix("http://")
        announced = stderr_path.read_text()
        assert "kmsd: created access key LTAI" in announced, announced
        assert "kmsd-data/bootstrap-credentials (mode 0600)" in announced, announced
        assert (tmp_path / "kmsd-data" / "bootstrap-credentials").stat().st_mode & 0o777 == 0o600

        snippet = quick_start_snippet().replace("127.0.0.1:8080", addr)
        out = io.StringIO()
        cwd = os.getcwd()
        os.chdir(tmp_path)
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(snippet, "README.md quick start", "exec"), {"__name__": "readme"})
        finally:
            os.chdir(cwd)
        assert out.getvalue().strip() == "aGVsbG8=", out.getvalue()
    finally:
        process.terminate()
        process.wait(timeout=15)
