"""The audit's runner core, shared by every family (tools/audit.py, audit_inputs.py, audit_state.py,
audit_trust.py): the real `faceid` command run under a time limit with its peak memory, and the tally of a family."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "assets" / "samples"
REF = SAMPLES / "astronaut.jpg"
EMBED_BATCH = 250
CASE_LIMIT_S = 60.0  # a single faceid call still running after this is a hang (--case-limit)

# The families import faceid_gui and tests in-process: take them from this checkout, not an installed copy.
sys.path.insert(0, str(ROOT))


@dataclass
class Family:
    name: str
    tried: int = 0
    passed: int = 0
    peak_mb: float = 0.0
    worst_s: float = 0.0
    failures: list[str] = field(default_factory=list)
    tracebacks: int = 0
    hangs: int = 0
    wrong: int = 0  # failed otherwise: a wrong exit code, or output that breaks the contract
    lost: int = 0  # enrolments reported done and then missing

    def record(self, ok: bool, what: str, peak_mb: float = 0.0, seconds: float = 0.0, err: str = "",
               hung: bool = False) -> None:
        self.tried += 1
        self.passed += ok
        if not ok:
            self.failures.append(what)
        self.tracebacks += "Traceback" in err
        self.hangs += hung
        self.wrong += not ok and not hung and "Traceback" not in err
        self.peak_mb = max(self.peak_mb, peak_mb)
        self.worst_s = max(self.worst_s, seconds)

    def count_lost(self, lost: list[str]) -> None:
        """Enrolments that reported success and are gone: each one unpasses a case."""
        if lost:
            self.failures.append(f"lost enrolments: {lost[:5]}")
            self.passed -= min(self.passed, len(lost))
            self.lost = len(lost)

    def check(self, what: str, run: "Run", ok: bool) -> None:
        """Record one faceid run; a hang or a traceback never passes."""
        self.record(ok and not run.hung and "Traceback" not in run.err + run.out,
                    f"{what}: exit {run.code} {run.err.strip()[:150]!r}", run.peak_mb, run.seconds, run.err, run.hung)


@dataclass
class Run:
    code: int
    out: str
    err: str
    peak_mb: float
    seconds: float
    hung: bool = False


def faceid(*args, env: dict | None = None, kill_after: float | None = None, redirect: str = "",
           limit: float | None = None) -> Run:
    """Run `python -m faceid_gui ARGS` with its output in files (no pipe deadlock) and wait4 for its peak memory.
    redirect: shell redirections applied to it (e.g. "2>&-": stderr closed); limit: seconds before it is killed
    as hung (default CASE_LIMIT_S)."""
    argv = [sys.executable, "-m", "faceid_gui", *map(str, args)]
    if redirect:
        argv = ["bash", "-c", f'exec "$0" "$@" {redirect}', *argv]  # exec: wait4 measures faceid itself
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env={**os.environ, **(env or {})}, cwd=ROOT)
        if kill_after is not None:
            time.sleep(kill_after)
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
        deadline, hung = start + (limit or CASE_LIMIT_S), False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline and not hung:
                hung = True
                os.kill(proc.pid, signal.SIGKILL)
            time.sleep(0.01)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return Run(proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                   usage.ru_maxrss / 1024, seconds, hung)


def clean_error(run: Run, needle: str = "") -> bool:
    """Exit 2, exactly one line on stderr, no traceback, and (if given) the expected words in it."""
    lines = run.err.strip().splitlines()
    return run.code == 2 and len(lines) == 1 and "Traceback" not in run.err and needle in run.err


def strict_json(line: str):
    def refuse(token):
        raise ValueError(f"bare {token}")

    return json.loads(line, parse_constant=refuse)
