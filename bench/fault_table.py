"""The fault table: every fault row of tests/e2e/test_fault_table.py, including the long ones
(PostgreSQL stalled 30 s), run on the real components, then the table printed.

    .venv/bin/python bench/fault_table.py      # about 3 minutes, as root

The rows are measured by that test module (it is the harness: SIPp phones, the real Asterisk
and PostgreSQL, TCP proxies in front of PostgreSQL and AMI, the router in-process or killed as
its own process); this script runs it with STICKY_FAULT_TABLE=full and prints what it wrote to
artifacts/fault-table.md. Exit code 0 whenever the rows ran, whatever they show.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "artifacts" / "fault-table.md"


def main() -> int:
    TABLE.unlink(missing_ok=True)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/e2e/test_fault_table.py"],
        cwd=ROOT, env=os.environ | {"STICKY_FAULT_TABLE": "full"}, check=False,
        capture_output=True, text=True,
    )  # fmt: skip
    print(run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "pytest said nothing")
    if not TABLE.exists():
        print(run.stdout[-4000:], run.stderr[-4000:], sep="\n")
        return 1
    print("\nFault table (must: 0 failed, 0 events lost, 0 over budget, callback sticky):\n")
    print(TABLE.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
