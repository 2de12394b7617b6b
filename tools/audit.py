"""Hostile-input audit (issue 10): rerun every family of faults against the real `faceid` command and print a table.

    .venv/bin/python tools/audit.py [--mutants 2000] [--kills 100] [--seed 0]

Families: mutated images through `embed` (batched, many files per process) and `compare`, special files, kill -9
during enrolment, concurrent enrolments, gallery faults, model faults; and those of issue 19 (tools/audit_trust.py):
planted and hanging models, hostile names, special gallery paths, permissions, closed streams, phone formats.
A case passes when it ends with the exit code it should (compare: 0 same, 1 different, 3 uncertain, 2 error), with
no traceback, one line on stderr for an error, and no enrolment that reported success lost, within --case-limit
seconds (a process still running then is killed and counted as a hang). Peak memory is each process's maximum
resident set (from wait4); time is its wall time.

Modules: audit_support.py (running faceid, the tally), audit_inputs.py (mutated and special image files),
audit_state.py (kills, concurrency, gallery and model faults), audit_trust.py (issue 19).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import audit_support
import audit_trust
from audit_inputs import audit_mutants, audit_special, compare_worker
from audit_state import audit_concurrent, audit_gallery_faults, audit_kills, audit_model_faults
from audit_support import Family


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--concurrent", type=int, default=20, help="enrolments started at once, per round (2 rounds)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", help="family keys: mutants special kills concurrent gallery model, "
                                                  "and issue 19's: " + " ".join(audit_trust.STEPS))
    parser.add_argument("--case-limit", type=float, default=audit_support.CASE_LIMIT_S,
                        help="seconds before a faceid run is a hang")
    parser.add_argument("--compare-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compare_worker:
        return compare_worker(args.compare_worker)
    audit_support.CASE_LIMIT_S = args.case_limit  # faceid() reads it at each call
    only = set(args.only or ["mutants", "special", "kills", "concurrent", "gallery", "model", *audit_trust.STEPS])
    families: list[Family] = []
    with tempfile.TemporaryDirectory(prefix="faceid-audit-") as tmp:
        work = Path(tmp)
        # Private data folder: the audit never touches the real gallery, models, settings or error log.
        os.environ["FACEID_DATA_DIR"] = str(work / "data")
        steps = [("special", lambda: [audit_special(work)]), ("gallery", lambda: [audit_gallery_faults(work)]),
                 ("model", lambda: [audit_model_faults(work)]),
                 ("concurrent", lambda: [audit_concurrent(2, args.concurrent, work)]),
                 ("kills", lambda: [audit_kills(args.kills, args.seed, work)]),
                 ("mutants", lambda: list(audit_mutants(args.mutants, args.seed, work))),
                 *[(key, lambda step=step: [step(work)]) for key, step in audit_trust.STEPS.items()]]
        for key, step in steps:
            if key in only:
                start = time.monotonic()
                done = step()
                families += done
                print(f"  {key}: {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
        log = work / "data" / "faceid-errors.log"
        logged = log.read_text(errors="replace").count("Traceback") if log.exists() else 0
    columns = ("tried", "passed", "failed", "tracebacks", "wrong exit/output", "hangs", "lost enrolments",
               "worst peak memory (MB)", "worst time (s)")
    print(f"\n| family | {' | '.join(columns)} |\n|---|{'---|' * len(columns)}")
    for f in families + [_total(families)]:
        print(f"| {f.name} | {f.tried} | {f.passed} | {f.tried - f.passed} | {f.tracebacks} | {f.wrong} | {f.hangs} | "
              f"{f.lost} | {f.peak_mb:.0f} | {f.worst_s:.2f} |")
    failed = sum(f.tried - f.passed for f in families)
    print(f"\nunexpected exceptions written to the error log: {logged}")
    for f in families:
        for what in f.failures[:10]:
            print(f"FAILED {f.name}: {what}")
    return 0 if failed == 0 and logged == 0 else 1


def _total(families: list[Family]) -> Family:
    total = Family("**all**")
    for f in families:
        for name in ("tried", "passed", "tracebacks", "hangs", "wrong", "lost"):
            setattr(total, name, getattr(total, name) + getattr(f, name))
        total.peak_mb, total.worst_s = max(total.peak_mb, f.peak_mb), max(total.worst_s, f.worst_s)
    return total



if __name__ == "__main__":
    sys.exit(main())
