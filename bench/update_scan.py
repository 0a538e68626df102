"""The admission scan's cost per keystroke: the full scan against its fast path.

Run by hand (not a test): `.venv/bin/python bench/update_scan.py`. Builds the updates a
typist's Yjs client sends (an insert at the end, one in the middle, a backspace, a non-ASCII
character) with pycrdt, then times `scan_full_update`, `scan_small_update` and
`scan_update` (what admission calls) on each, best of 7 repeats, interleaved so a busy
machine slows all three alike.
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path
from typing import Any

import pycrdt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collab.documents.update_scan import (
    scan_full_update,
    scan_small_update,
    scan_update,
)


def keystrokes() -> dict[str, bytes]:
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=3_141_592_653)
    text = doc.get("content", type=pycrdt.Text)
    text.insert(0, "x" * 300)
    made: list[bytes] = []
    doc.observe(lambda event: made.append(event.update))
    text.insert(len(text), "a")
    text.insert(100, "b")
    del text[50]
    text.insert(len(text), "é")
    names = ["insert at end", "insert inside", "backspace", "non-ASCII"]
    return dict(zip(names, made, strict=True))


def main() -> None:
    number = 20_000
    print(f"{'update':<14} {'bytes':>5} {'full µs':>8} {'fast µs':>8} {'scan_update µs':>15}")
    for name, update in keystrokes().items():
        assert scan_small_update(update) == scan_full_update(update)
        best: dict[str, float] = {}
        for _ in range(7):
            for label, scan in [
                ("full", scan_full_update),
                ("fast", scan_small_update),
                ("scan", scan_update),
            ]:
                run = lambda scan=scan, update=update: scan(update)  # noqa: E731
                took = timeit.timeit(run, number=number) / number
                best[label] = min(best.get(label, took), took)
        print(
            f"{name:<14} {len(update):>5} {best['full'] * 1e6:>8.2f} "
            f"{best['fast'] * 1e6:>8.2f} {best['scan'] * 1e6:>15.2f}"
        )


if __name__ == "__main__":
    main()
