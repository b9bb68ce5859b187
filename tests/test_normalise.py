"""Reading amounts, municipalities, dates and areas as applicants write them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blankett.models.normalise import (
    AreaIndex,
    MunicipalityIndex,
    clean_email,
    is_email,
    names_time_of_year,
    parse_amount,
    parse_date,
)
from blankett.models.spec import load_spec
from blankett.models.text import strip_diacritics

SPEC = load_spec()
MUNICIPALITIES = MunicipalityIndex(SPEC)
AREAS = AreaIndex(SPEC)


@pytest.mark.parametrize(("text", "amount"), [
    ("50 000 kr", 50000), ("45.000:-", 45000), ("30 000 SEK", 30000), ("30000", 30000),
    ("50\u00a0000 kr", 50000), ("50 000,00 kr", 50000), ("45 tkr", 45000), ("Ca 40 000 kronor", 40000),
    ("0 kr", 0), ("-5000", -5000), ("60 000 kr", 60000), ("femtio tusen", None), ("", None),
    ("SEK 25,000", 25000), ("45,000 SEK", 45000),
    ("Totalt 90 000 kr varav 45 000 kr söks", 45000),
    ("Vi söker 40 000 kr av totalt 80 000 kr", 40000),
])
def test_amounts(text: str, amount: int | None) -> None:
    assert parse_amount(text) == amount


def _grouped(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


@given(
    n=st.integers(min_value=1, max_value=999_999),
    sep=st.sampled_from([" ", ".", "\u00a0", ""]),
    suffix=st.sampled_from(["", " kr", " kr.", ":-", " SEK", " kronor", ",00 kr"]),
    prefix=st.sampled_from(["", "Vi söker ", "ca "]),
)
def test_any_written_amount_reads_back(n: int, sep: str, suffix: str, prefix: str) -> None:
    written = prefix + (_grouped(n, sep) if sep else str(n)) + suffix
    assert parse_amount(written) == n


@pytest.mark.parametrize(("text", "name"), [
    ("Goteborg", "Göteborg"), ("Göteborgs stad", "Göteborg"), ("Mölndals kommun", "Mölndal"),
    ("MÖLNDAL", "Mölndal"), ("Lilla Edets kommun", "Lilla Edet"), ("Dals-Eds kommun", "Dals-Ed"),
    ("Borås Stad", "Borås"), ("Lerums bibliotek", "Lerum"), ("Trollhattan", "Trollhättan"),
    ("Skövde kommun (Stadsbiblioteket)", "Skövde"), ("Stockholm", None), ("Markaryd", None),
    ("Uddevalla kommun, Stadsbiblioteket", "Uddevalla"),
    ("Kungälvs kommun / Kungälvs bibliotek", "Kungälv"),
    ("Malmö", None),
])
def test_municipalities(text: str, name: str | None) -> None:
    assert MUNICIPALITIES.canonical(text) == name


@given(
    name=st.sampled_from(SPEC.municipality.names),
    form=st.sampled_from(["{}", "{} kommun", "{}s kommun", "{} stad", "{} Kommun"]),
    fold=st.sampled_from([str, str.upper, str.lower, strip_diacritics]),
)
def test_every_municipality_normalises_whatever_its_spelling(name: str, form: str, fold) -> None:
    assert MUNICIPALITIES.canonical(fold(form.format(name))) == name


@pytest.mark.parametrize(("text", "iso"), [
    ("2026-03-15", "2026-03-15"), ("15/3 2026", "2026-03-15"), ("15.03.2026", "2026-03-15"),
    ("15 mars 2026", "2026-03-15"), ("Alingsås 2026-03-15", "2026-03-15"),
    ("2026-02-30", None), ("snart", None),
])
def test_dates(text: str, iso: str | None) -> None:
    assert parse_date(text) == iso


@pytest.mark.parametrize(("text", "areas"), [
    ("☐ Det öppna biblioteket\n☒ Det digitala biblioteket", ("digital",)),
    ("☒ Det öppna biblioteket\n☒ Det läs- och skrivfrämjande biblioteket", ("open", "reading")),
    ("Det lärande biblioteket", ("learning",)),
    ("Läsfrämjande", ("reading",)),
    ("[X] Det lärande biblioteket\n[ ] Det digitala biblioteket", ("learning",)),
    ("☐ Det öppna biblioteket\n☐ Det digitala biblioteket", ()),
    ("Kultur för alla", ()),
    # Named in a sentence with another area's word: the full name is the choice.
    ("Vi söker inom det digitala biblioteket, även om en del är läsfrämjande arbete", ("digital",)),
])
def test_areas(text: str, areas: tuple[str, ...]) -> None:
    assert AREAS.read(text).areas == areas


@pytest.mark.parametrize(("text", "ok"), [
    ("Under mars 2026 planerar vi", True), ("Start vecka 12, avslut v. 40", True),
    ("Hösten: workshops", True), ("VT26 och HT26", True), ("I januari 2027 börjar vi", False),
    ("Vi gör det när tid finns", False), ("Start 2026-04-01", True),
])
def test_timeline_names_a_time_of_the_grant_year(text: str, ok: bool) -> None:
    assert names_time_of_year(text, 2026) is ok


@pytest.mark.parametrize(("text", "address", "valid"), [
    ("anna.berg@ale.se", "anna.berg@ale.se", True),
    ("mailto:anna@ale.se", "anna@ale.se", True),
    ("Anna Berg <anna@ale.se>", "anna@ale.se", True),
    ("anna.at.ale.se", "anna.at.ale.se", False),
    ("anna@ale", "anna@ale", False),
    ("åsa.öberg@mölndal.se", "åsa.öberg@mölndal.se", True),
    ("fredrik.axelsson@kungalv.example.or\ng", "fredrik.axelsson@kungalv.example.org", True),
    ("anna berg", "anna berg", False),
])
def test_email(text: str, address: str, valid: bool) -> None:
    assert clean_email(text) == address
    assert is_email(address) is valid
