"""How much of a peer framework's op test suite microtensor runs and passes.

tests/test_peer_ops.py holds one test per test function of tinygrad's test/test_ops.py (419
functions at tinygrad commit f911a63a6b), each comparing microtensor with PyTorch. This script
runs that file under pytest and counts the outcomes:

- passed: microtensor has the op and agrees with PyTorch (forward values and gradients);
- skipped `needs <name>`: microtensor lacks the op or the feature (the to-do list, ranked here
  by how many tests each would unlock);
- skipped `tinygrad-only: ...`: the peer tests a feature of its own, with no PyTorch meaning;
- xfailed `bug: ...`: microtensor has the op and is wrong (strict xfails: a fix makes them fail
  loudly until the mark goes);
- xfailed `convention: ...`: a deliberate difference from PyTorch (NumPy's rule or DESIGN's);
- failed / errors: anything else (a regression: the file is meant to have none).

Run from the repository root:

    python -m benchmarks.peer_ops               # prints the counts, writes the JSON
    python -m benchmarks.peer_ops --json PATH   # elsewhere (default: benchmarks/results/)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEST_FILE = "tests/test_peer_ops.py"
PEER_TOTAL = 419


def run_pytest(xml_path: Path) -> int:
    """Run the peer test file in a subprocess (one process, no xdist), results as JUnit XML."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
           TEST_FILE, f"--junitxml={xml_path}", "-o", "junit_family=xunit2"]
    # a non-zero exit (failed tests) is reported from the XML, not raised
    return subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          check=False).returncode


def _reason(message: str) -> str:
    """pytest's skip/xfail message without its location prefix."""
    message = re.sub(r"^Skipped:\s*", "", message.strip())
    return re.sub(r"^.*?:\d+:\s*", "", message) if re.match(r"^\S+\.py:\d+:", message) else message


def classify(xml_path: Path) -> dict[str, Any]:
    """Outcome of every test case in the JUnit XML: counts, reasons, and the missing ops."""
    cases = []
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        name = case.get("name", "")
        skipped, failure, error = (case.find(tag) for tag in ("skipped", "failure", "error"))
        if skipped is not None:
            kind = skipped.get("type", "")
            msg = _reason(skipped.get("message", ""))
            if kind == "pytest.xfail" or msg.startswith(("bug:", "convention:")):
                outcome = "xfail_bug" if msg.startswith("bug:") else "xfail_convention"
            elif msg.startswith("tinygrad-only"):
                outcome = "skip_tinygrad_only"
            else:
                outcome = "skip_needs"
            cases.append((name, outcome, msg))
        elif failure is not None or error is not None:
            node = failure if failure is not None else error
            cases.append((name, "failed", (node.get("message") or "")[:200]))
        else:
            cases.append((name, "passed", ""))
    counts = Counter(outcome for _, outcome, _ in cases)
    needs = Counter(msg.removeprefix("needs ") for _, o, msg in cases if o == "skip_needs")
    by_op = Counter(re.sub(r"\(.*$", "", need) for need in needs.elements())
    return {
        "total": len(cases),
        "peer_total": PEER_TOTAL,
        "counts": {k: counts.get(k, 0) for k in ("passed", "skip_needs", "skip_tinygrad_only",
                                                  "xfail_bug", "xfail_convention", "failed")},
        "missing_by_op": dict(by_op.most_common()),
        "missing_by_reason": dict(needs.most_common()),
        "xfails": {name: msg for name, o, msg in cases if o.startswith("xfail")},
        "tinygrad_only": {name: msg for name, o, msg in cases if o == "skip_tinygrad_only"},
        "failed": {name: msg for name, o, msg in cases if o == "failed"},
    }


def report(result: dict[str, Any]) -> str:
    """The counts as a short text table."""
    c, total = result["counts"], result["total"]
    lines = [f"peer op tests (tinygrad test_ops.py): {total} test functions "
             f"(the peer has {result['peer_total']})",
             f"  passed                       {c['passed']:4d}",
             f"  skipped: needs an op          {c['skip_needs']:4d}",
             f"  skipped: tinygrad-only        {c['skip_tinygrad_only']:4d}",
             f"  xfailed: bug                  {c['xfail_bug']:4d}",
             f"  xfailed: convention           {c['xfail_convention']:4d}",
             f"  failed                        {c['failed']:4d}",
             "missing ops, by tests they would unlock:"]
    lines += [f"  {n:3d}  {op}" for op, n in result["missing_by_op"].items()]
    if result["xfails"]:
        lines.append("strict xfails:")
        lines += [f"  {name}: {msg}" for name, msg in sorted(result["xfails"].items())]
    if result["failed"]:
        lines.append("FAILED (regressions):")
        lines += [f"  {name}: {msg}" for name, msg in sorted(result["failed"].items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the peer suite, print the counts, write the JSON; exit 1 on a failed test."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks/results/peer_ops.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        xml_path = Path(tmp) / "peer.xml"
        run_pytest(xml_path)
        if not xml_path.exists():
            print("pytest produced no report: run the test file by hand to see why")
            return 2
        result = classify(xml_path)
    print(report(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {args.json}")
    return 1 if result["counts"]["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
