"""The nightly run over many applications: the statements it sends the store do not grow with
their number, whether every application is checked again (the first night after an upgrade)
or none needs to be (an unchanged year). benchmarks/nightly.py times a year of 10,000; this is
its seeding and its steps, small."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from pipeline_support import by_name
from sqlalchemy import update

from blankett.fixtures.corpus import Case
from blankett.flows.home.settings import Home
from blankett.flows.store.database import Result, Store
from blankett.models.spec import load_routing

# A complete form and an incomplete one, a PDF form, a corrected pair, a scan left to a person,
# an unreadable file.
FORMS = ("docx_mall_goteborg.docx", "docx_kontroller_ofullstandig_ale.docx",
         "pdf_formular_mall_skara.pdf", "docx_alingsas_v1.docx", "docx_alingsas_v2_rattad.docx",
         "pdf_skannad_amal.pdf", "ansokan_tom.docx")
STEPS = ("retake", "revalidate", "summaries", "deliver")


def _benchmark() -> ModuleType:
    """benchmarks/nightly.py, which is a script and not in a package, under a name of its own."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "nightly.py"
    spec = importlib.util.spec_from_file_location("blankett_nightly_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _forget_rules(url: str) -> None:
    """As results stored before they recorded the rules that checked them."""
    store = Store(url)
    try:
        with store.session() as session:
            session.execute(update(Result).values(rules_fingerprint=None))
    finally:
        store.close()


def test_the_nightly_statements_do_not_grow_with_the_applications(
        store_url: str, corpus: list[Case], tmp_path: Path) -> None:
    bench = _benchmark()
    home = bench.make_home(tmp_path / "home", store_url)
    bench.take_corpus(home, by_name(corpus, *FORMS))
    consultants = len({a for addresses in _routing(home).values() for a in addresses})
    measured: dict[tuple[int, str], dict[str, Any]] = {}
    day = 25
    for applications in (20, 60):
        bench.copy_rows(home, applications, 0.1)
        _forget_rules(home.database_url)
        for night in ("first", "next"):
            run = bench.measure_steps(home.root, f"2026-11-{day}")
            day += 1
            measured[applications, night] = run
            assert run["outcome"]["revalidate"] == {"checked": applications, "changed": 0,
                                                    "reread": 0}, (applications, night)
            assert run["outcome"]["summaries"] == consultants
            assert run["outcome"]["deliver"] == consultants
    for night in ("first", "next"):
        few = {s: measured[20, night]["steps"][s]["statements"] for s in STEPS}
        many = {s: measured[60, night]["steps"][s]["statements"] for s in STEPS}
        assert few == many, night
        # Fewer than one an application; delivery's are a few a message, one a consultant.
        assert many["revalidate"] + many["summaries"] < 60, many
    # Once checked under the rules in force, nothing is loaded to be checked again.
    assert measured[60, "next"]["steps"]["revalidate"]["statements"] <= 2


def _routing(home: Home) -> dict[str, tuple[str, ...]]:
    routing = load_routing(home.optional_path(home.settings.routing.file))
    return {**routing.areas, "fallback": routing.fallback}
