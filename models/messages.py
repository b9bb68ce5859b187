"""The Swedish wording of each problem, as a consultant reads it."""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "missing": "{label} saknas.",
    "missing_maybe": "{label} saknas (kanske under rubriken ”{heading}”).",
    "guessed_label": "Rubriken ”{heading}” lästes som {label} utifrån {how}; kontrollera.",
    "missing_own_contribution": "{label} är inte ifylld. Stödet kräver en egen insats i form av "
                                "personalens tid.",
    "invalid_email": "E-postadressen ”{value}” är inte en giltig adress.",
    "invalid_phone": "Telefonnumret ”{value}” innehåller annat än siffror, mellanslag, + och -.",
    "unknown_municipality": "”{value}” är inte en av Västra Götalands 49 kommuner.",
    "amount_too_high": "Sökt belopp {value} kr är mer än högsta beloppet {limit} kr.",
    "amount_not_positive": "Sökt belopp måste vara större än 0 kr (angivet: {value}).",
    "amount_unreadable": "Sökt belopp ”{value}” går inte att läsa som ett belopp i kronor.",
    "area_ambiguous": "Flera strategiska inriktningar är valda ({value}); välj en. Ansökan går "
                      "till de övergripande kontaktpersonerna.",
    "area_unknown": "”{value}” är ingen av de fyra strategiska inriktningarna. Ansökan går till "
                    "de övergripande kontaktpersonerna.",
    "timeline_no_date": "Tidsplanen anger ingen månad, vecka, termin eller datum under {year}.",
    "support_unspecified": "Det framgår inte vilket stöd som behövs från Kulturutveckling: "
                           "kompetens (t.ex. konsulentstöd) eller samfinansiering (belopp).",
    "too_short": "{label} är mycket kort ({count} ord); beskriv utförligare.",
    "second_application": "{municipality} har även lämnat in ansökan ”{other}” för {year}. "
                          "Endast en ansökan per kommun och år kan beviljas.",
    "scanned": "Filen är en inskannad bild utan text och kan inte läsas automatiskt. "
               "Läs den manuellt eller be om en ifylld Word- eller PDF-blankett.",
    "scanned_unread": "OCR kunde inte läsa den: {why}.",
    "ocr": "Ansökan är läst med OCR (maskinläsning av en bild): kontrollera värdena mot originalet.",
    "xfa_only": "Filen är ett XFA-formulär (Adobe LiveCycle) vars fält inte kan läsas. "
                "Be om den ifyllda blanketten som Word-fil eller utskriven PDF.",
}


# A few words for each problem, where a list shows many applications (`blankett status`).
SHORT: dict[str, str] = {
    "missing": "saknas",
    "guessed_label": "rubrik tolkad, kontrollera",
    "missing_own_contribution": "egen insats saknas",
    "invalid_email": "ogiltig e-postadress",
    "invalid_phone": "ogiltigt telefonnummer",
    "unknown_municipality": "okänd kommun",
    "amount_too_high": "för högt belopp",
    "amount_not_positive": "belopp ej över 0",
    "amount_unreadable": "oläsligt belopp",
    "area_ambiguous": "flera inriktningar valda",
    "area_unknown": "okänd inriktning",
    "timeline_no_date": "tidsplan utan tid",
    "support_unspecified": "stödbehov oklart",
    "too_short": "mycket kort svar",
    "second_application": "kommunens andra ansökan i år",
    "scanned": "inskannad, läs manuellt",
    "ocr": "läst med OCR, kontrollera",
    "xfa_only": "XFA-formulär, kan inte läsas",
    "unreadable": "kan inte läsas",
}


def short(code: str) -> str:
    return SHORT.get(code, code)


def message(code: str, **values: object) -> str:
    return MESSAGES[code].format(**values)

# The codes a problem can have; the other messages are wordings of `missing` (a heading nothing
# could place, the own contribution) and of `scanned` (why OCR could not read it).
PROBLEM_CODES = frozenset(MESSAGES) - {"missing_maybe", "missing_own_contribution", "scanned_unread"}
