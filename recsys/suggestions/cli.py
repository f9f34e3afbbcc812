"""`manage.py suggest`: run every detector now and print what it found (the command module stays thin)."""
from __future__ import annotations

import json
from collections.abc import Callable

from recsys.suggestions.services import DETECTOR_NAMES, Refreshed, suggestions_refresh


def suggest(*, detectors: list[str] | None, evidence: bool, write: Callable[[str], None]) -> Refreshed:
    names = detectors or list(DETECTOR_NAMES)
    write(f"Running {len(names)} detector(s): {', '.join(names)}")
    result = suggestions_refresh(detectors=detectors)
    for name in names:
        write(f"  {name:<17} {result.found.get(name, 0)} case(s)")
    raised = {s.key: s for s in result.raised}
    for finding in sorted(result.findings, key=lambda f: (f.detector, f.key)):
        mark = "new " if finding.key in raised and raised[finding.key].detector == finding.detector else "    "
        write(f"{mark}[{finding.severity}] {finding.detector} {finding.key}: {finding.title}")
        write(f"       why: {finding.why}")
        if evidence:
            shown = {k: v for k, v in finding.evidence.items() if k != "links"}
            write(f"       evidence: {json.dumps(shown, default=str, sort_keys=True)}")
    write(f"Done: {len(result.findings)} found, {len(result.raised)} new, {result.refreshed} refreshed, "
          f"{result.held_back} held back (dismissed or accepted, evidence unchanged), {result.resolved} resolved.")
    return result
