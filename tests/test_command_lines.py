"""The one line a command ends with, said in whole words for any count."""

from __future__ import annotations

from blankett.flows.cli.home import nightly_line


def test_the_nightly_line_counts_one_and_many_in_words() -> None:
    counts = {"checked": 1, "changed": 0, "reread": 0, "retaken": 0, "summaries": 1, "sent": 1,
              "pending": 0}
    assert nightly_line(counts).startswith("Checked 1 application (0 changed, ")  # type: ignore[arg-type]
    assert "; 1 summary queued; messages sent: 1." in nightly_line(counts)  # type: ignore[arg-type]
    many = {**counts, "checked": 2, "summaries": 3, "pending": 2}
    line = nightly_line(many)  # type: ignore[arg-type]
    assert line.startswith("Checked 2 applications (") and "3 summaries queued" in line
    assert line.endswith(", 2 waiting.")
