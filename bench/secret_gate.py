"""Secret gate: recall and false-block rate on labelled cases, detect-secrets defaults vs. Ambient.

Run from the repository root: `.venv/bin/python bench/secret_gate.py`. Both configurations scan
the same cases in the same run (each case is one added file of one diff). "Held out" is every
set but `tune`, the one the rules were developed against; docs/secrets.md tells which figure
was a first measurement. The last line holds the key figures as key=value pairs.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.secrets.plugins import baseline_config, gate_config  # noqa: E402
from bot.secrets.scan import scan_diff_text  # noqa: E402
from tests.data.secrets.labelled import Case, all_cases, as_diff  # noqa: E402

HELD_OUT = ("holdout", "fresh", "final", "upstream", "fam-holdout", "np-holdout")


def flagged(cases: list[Case], config: dict[str, Any]) -> tuple[set[str], float]:
    """Ids of the cases with at least one finding, and the scan's wall time in seconds."""
    diff = as_diff(cases)
    start = time.perf_counter()
    report = scan_diff_text(diff, config=config)
    elapsed = time.perf_counter() - start
    return {finding.file.split("/")[1] for finding in report.findings}, elapsed


def rates(cases: list[Case], hits: set[str]) -> tuple[int, int, int, int]:
    """(true positives, positives, false blocks, negatives)."""
    positives = [c for c in cases if c.secret]
    negatives = [c for c in cases if not c.secret]
    tp = sum(c.id in hits for c in positives)
    fp = sum(c.id in hits for c in negatives)
    return tp, len(positives), fp, len(negatives)


def main() -> None:
    sets = all_cases()
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    seconds: dict[str, float] = defaultdict(float)
    lines = 0
    print(f"{'set':<10} {'cases':>5}  {'config':<8} {'recall':>14} {'false block':>14}")
    for name, cases in sets.items():
        lines += sum(len(c.text.split("\n")) for c in cases)
        for label, config in (("defaults", baseline_config()), ("ambient", gate_config())):
            hits, elapsed = flagged(cases, config)
            seconds[label] += elapsed
            tp, pos, fp, neg = rates(cases, hits)
            if name in HELD_OUT:
                for i, value in enumerate((tp, pos, fp, neg)):
                    totals[label][i] += value
            print(
                f"{name:<10} {len(cases):>5}  {label:<8} {tp:>4}/{pos:<4} {tp / pos:5.3f}"
                f" {fp:>4}/{neg:<4} {fp / neg:5.3f}"
            )
    tp, pos, fp, neg = totals["ambient"]
    btp, bpos, bfp, bneg = totals["defaults"]
    recall, false_block = tp / pos, fp / neg
    base_recall, base_false_block = btp / bpos, bfp / bneg
    print()
    print(f"held out ({', '.join(HELD_OUT)}): {pos} secrets, {neg} look-alikes")
    print(f"  recall       ambient {recall:.3f}  defaults {base_recall:.3f}")
    print(f"               ratio {recall / base_recall:.2f}x the defaults")
    print(f"  false block  ambient {false_block:.3f}  defaults {base_false_block:.3f}")
    ratio = false_block / base_false_block if base_false_block else float("inf")
    print(f"               ratio {ratio:.2f}x the defaults")
    speed = seconds["defaults"] / seconds["ambient"]
    print(
        f"  scan speed   ambient {lines / seconds['ambient']:.0f} lines/s, "
        f"{speed:.2f}x the defaults' {lines / seconds['defaults']:.0f} lines/s"
    )
    print(
        f"secret_recall={recall:.3f} false_block={false_block:.3f} "
        f"baseline_recall={base_recall:.3f} baseline_false_block={base_false_block:.3f}"
    )


if __name__ == "__main__":
    main()
