# ruff: noqa: T201 (a command-line report: printing is its job)
"""Read pip-audit's JSON report and say honestly what it covered.

Exit 1 when a known vulnerability is found. When pip-audit could not look a
package up (no route to its vulnerability data), that package was NOT audited:
the step is reported as "not run" for it, never as passed.
"""

import json
import sys


def main(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        report = json.load(handle)
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if "skip_reason" in d]
    audited = [d for d in deps if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"pip-audit: {dep['name']} {dep['version']} has {ids}")
    if vulnerable:
        print(f"pip-audit: FAILED, {len(vulnerable)} vulnerable package(s)")
        return 1
    if not audited:
        reason = skipped[0]["skip_reason"] if skipped else "no packages listed"
        print(
            f"pip-audit: NOT RUN, 0 of {len(deps)} packages could be looked up "
            f"(its vulnerability data is unreachable from here: {reason})"
        )
        return 0
    print(f"pip-audit: passed for {len(audited)} of {len(deps)} packages")
    if skipped:
        names = ", ".join(d["name"] for d in skipped)
        print(f"pip-audit: NOT RUN for {len(skipped)} package(s): {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
