"""Many files at once: N forms and broken files dropped into the inbox together, some still being
written slowly by another process while the pass runs. Reports the time, the peak memory of the
intake process (its workers included), and whether anything was lost or taken half-written.

Run: .venv/bin/python benchmarks/load.py [--files 2000] [--slow 20]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from blankett.fixtures.corpus import build_corpus
from blankett.flows.delivery import OutboxDelivery
from blankett.flows.inbox import InboxFilter, StabilityTracker, wait_until_ready
from blankett.flows.intake import recover, take_file
from blankett.flows.messaging import deliver_pending
from blankett.flows.pipeline import open_pipeline
from blankett.flows.settings import init_home, load_home

SLOW_WRITER = """
import sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as out:
    for i in range(0, len(data), 4096):
        out.write(data[i:i + 4096]); out.flush(); time.sleep(float(sys.argv[3]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--slow", type=int, default=20, help="files written slowly meanwhile")
    args = parser.parse_args()
    corpus = build_corpus(2026)
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "home"
        init_home(root)
        settings = root / "blankett.toml"
        settings.write_text(settings.read_text().replace("# year = 2026", "year = 2026")
                            .replace("stable_seconds = 2.0", "stable_seconds = 1.0"))
        home = load_home(root)
        expected: Counter[str] = Counter()
        for n in range(args.files):
            case = rng.choice(corpus)
            # One in ten a duplicate of an earlier file; the others made distinct.
            data = case.data if n % 10 == 0 else case.data + b"\n%d\n" % n
            (home.inbox / f"{n:05d}-{case.name}").write_bytes(data)
            expected[hashlib.sha256(data).hexdigest()] += 1
        sources = Path(tmp) / "sources"
        sources.mkdir()
        writers = []
        for n in range(args.slow):
            case = rng.choice([c for c in corpus if c.kind])
            source = sources / f"slow-{n}"
            data = case.data + b"\nslow %d\n" % n
            source.write_bytes(data)
            expected[hashlib.sha256(data).hexdigest()] += 1
            writers.append(subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(source),
                                             str(home.inbox / f"slow-{n}-{case.name}"), "0.05"]))
        pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
        start = time.monotonic()
        outcomes: Counter[str] = Counter()
        while True:
            recover(pipeline)
            tracker = StabilityTracker(home.settings.inbox.stable_seconds)
            ready = wait_until_ready(home.inbox, InboxFilter(), tracker, 3.0)
            for path in ready:
                outcomes[take_file(pipeline, path).outcome] += 1
            deliver_pending(pipeline)
            if all(w.poll() is not None for w in writers) and not any(home.inbox.iterdir()):
                break
        elapsed = time.monotonic() - start
        pipeline.close()
        filed = Counter(hashlib.sha256(p.read_bytes()).hexdigest()
                        for place in (home.archive, home.failed) for p in place.rglob("*")
                        if p.is_file() and not (p.suffix == ".txt" and p.with_suffix("").exists()))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    total = args.files + args.slow
    print(f"{total} files ({args.slow} written slowly meanwhile) in {elapsed:.1f} s "
          f"({total / elapsed:.1f} files/s): {dict(outcomes)}")
    print(f"peak memory: intake process {own} MB, largest worker {workers} MB")
    print("every file filed exactly once, byte for byte:", filed == expected)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
