"""The Swedish wording of each problem, as a consultant reads it."""

from __future__ import annotations

from collections.abc import Mapping

# Where an application without one clear area goes: said after the problem in a report, left
# out where a consultant's correction is refused (which routes nothing).
TO_FALLBACK = " Ansökan går till de övergripande kontaktpersonerna."

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
    "area_ambiguous": "Flera strategiska inriktningar är valda ({value}); välj en." + TO_FALLBACK,
    "area_unknown": "”{value}” är ingen av de fyra strategiska inriktningarna." + TO_FALLBACK,
    "timeline_no_date": "Tidsplanen anger ingen månad, vecka, termin eller datum under {year}.",
    "support_unspecified": "Det framgår inte vilket stöd som behövs från Kulturutveckling: "
                           "kompetens (t.ex. konsulentstöd) eller samfinansiering (belopp).",
    "too_short": "{label} är mycket kort ({count} ord); beskriv utförligare.",
    "second_application": "{municipality} har även lämnat in ansökan ”{other}” för {year}. "
                          "Endast en ansökan per kommun och år kan beviljas.",
    "scanned": "Filen är en inskannad bild utan text och kan inte läsas automatiskt. "
               "Läs den manuellt eller be om en ifylld Word- eller PDF-blankett.",
    "scanned_unread": "OCR kunde inte läsa den: {why}.",
    # OCR not tried at all: switched off in the settings, or not installed.
    "scanned_not_tried": "{why}, så skannade sidor läses inte.",
    "ocr": "Ansökan är läst med OCR (maskinläsning av en bild): kontrollera värdena mot originalet.",
    "xfa_only": "Filen är ett XFA-formulär (Adobe LiveCycle) vars fält inte kan läsas. "
                "Be om den ifyllda blanketten som Word-fil eller utskriven PDF.",
}


# An application's status as people read it, singular and plural ("1 oläslig", "2 oläsliga"):
# the reports, the summaries, `status`, `show` and the overview all say it so.
STATUS_WORDS: dict[str, tuple[str, str]] = {
    "complete": ("komplett", "kompletta"),
    "incomplete": ("ofullständig", "ofullständiga"),
    "unreadable": ("oläslig", "oläsliga"),
}

# A decision (`blankett decide`), wherever it is shown.
DECISIONS: dict[str, str] = {"granted": "beviljad", "declined": "avslagen"}


def status_word(status: str, count: int = 1) -> str:
    singular, plural = STATUS_WORDS[status]
    return singular if count == 1 else plural


# A few words for each problem, where a list shows many applications (`blankett status`). A
# problem of one field among several of its kind names the field ({label}, its short label); a
# missing part that is only a warning is worded as `missing_own_contribution`.
SHORT: dict[str, str] = {
    "missing": "{label} saknas",
    "guessed_label": "{label}: rubrik tolkad, kontrollera",
    "missing_own_contribution": "{label} saknas",
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
    "too_short": "{label} mycket kort",
    "second_application": "kommunens andra ansökan i år",
    "scanned": "inskannad, läs manuellt",
    "ocr": "läst med OCR, kontrollera",
    "xfa_only": "XFA-formulär, kan inte läsas",
    "unreadable": "kan inte läsas",
}


def short(code: str, label: str | None = None, severity: str = "error") -> str:
    """The few words for a problem; `label` the short label of its field ("Egen insats"), for
    the problems that must name it."""
    if code == "missing" and severity == "warning":
        code = "missing_own_contribution"
    said = SHORT.get(code, code)
    return said.format(label=label or "Ett svar") if "{label}" in said else said


# Why a file could not be read at all, by the kind of reason the readers give (Unreadable.kind
# in models/errors.py), as reports, summaries, the note beside the file in failed/ and `status`
# say it. The one place these are worded: logs and `blankett extract` keep the English reason.
FAILURES: dict[str, str] = {
    "unreadable": "Filen kunde inte läsas.",
    "empty": "Filen är tom (0 byte).",
    "not_a_form": "Filen är inte i något format som kan läsas: varken ett Word-dokument (.docx, "
                  ".doc, .odt, .rtf), en PDF eller en inskannad bild (PNG, JPEG, TIFF).",
    "not_the_form": "Filen kunde inte läsas som en ansökan: den liknar inte ansökningsblanketten "
                    "({found} av blankettens {total} delar finns under sina rubriker). Den kan vara "
                    "en bilaga, ett brev eller ett protokoll; läs den manuellt.",
    "other_format": "Filen är {format}, inte ett Word-dokument eller en PDF.",
    "image_format": "Filen är en bild i {format}-format, som inte läses; be om en PDF, PNG eller "
                    "JPEG.",
    "encrypted": "Filen är lösenordsskyddad; be om en kopia utan lösenord.",
    "damaged_pdf": "Filen är en skadad PDF och kan inte öppnas.",
    "damaged_word": "Filen är en skadad Word-fil och kan inte öppnas.",
    "no_word_document": "Filen är en äldre Office-fil utan något Word-dokument i: den är skadad "
                        "eller kommer från ett annat program.",
    "damaged_zip": "Filen är en skadad zip- eller Word-fil och kan inte öppnas.",
    "damaged_image": "Filen är en skadad bild och kan inte öppnas.",
    "too_large": "Filen är för stor ({size} MB; gränsen är {limit} MB).",
    "too_large_unpacked": "Filen blir för stor när den packas upp och läses inte; den kan vara "
                          "gjord för att överbelasta läsaren.",
    "refused": "Filen är uppbyggd på ett sätt som Word aldrig skriver och läses inte, av "
               "säkerhetsskäl.",
    "too_nested": "Filen är för djupt nästlad eller för stor för att läsas säkert.",
    "too_many_pages": "PDF-filen har för många sidor ({count}; gränsen är {limit}).",
    "too_slow": "Filen tog längre tid än {seconds} s att läsa och avbröts.",
    "too_much_memory": "Filen behövde mer än {mb} MB minne för att läsas och avbröts.",
    "needs_libreoffice": "Filen är {format}, som kan läsas först när LibreOffice är installerat; "
                         "be annars om en .docx- eller PDF-fil.",
    "convert_timeout": "Filen är {format}, som LibreOffice inte kunde konvertera inom {seconds} s.",
    "convert_failed": "Filen är {format}, som LibreOffice inte kan öppna: den är skadad eller "
                      "inget textdokument.",
    "xfa": MESSAGES["xfa_only"],
    "ocr_failed": "OCR kunde inte läsa den inskannade filen.",
    "reader_failed": "Läsaren stötte på ett fel i filen; läs den manuellt.",
    "folder": "Det är en mapp, inte en fil.",
    "not_found": "Filen finns inte.",
    "no_access": "Filen kan inte öppnas: behörighet saknas.",
    "io_error": "Filen kan inte läsas från disken.",
}

# What a file is, for the {format} of the sentences above.
FORMATS: dict[str, str] = {
    "doc": "ett äldre Word-dokument (.doc)",
    "odt": "ett OpenDocument-dokument (.odt)",
    "rtf": "ett RTF-dokument (.rtf)",
    "xml": "en XML- eller HTML-fil",
    "ods": "ett kalkylark eller en presentation i OpenDocument-format",
    "office": "en Excel- eller PowerPoint-fil",
    "old_office": "en äldre Excel- eller PowerPoint-fil",
    "zip": "ett zip-arkiv",
}


def failure(kind: str | None, values: Mapping[str, object] | None = None,
            reason: str | None = None) -> str:
    """Why a file could not be read, in Swedish. `kind` None is a failure recorded before
    failures had kinds: its English `reason` is all there is, and is quoted as such."""
    if kind is None:
        said = FAILURES["unreadable"]
        return f"{said[:-1]} (orsak på engelska: {reason})." if reason else said
    shown = {k: _number(v) for k, v in (values or {}).items()}
    if "format" in shown:
        shown["format"] = FORMATS.get(str(shown["format"]), shown["format"])
    try:
        return FAILURES[kind].format(**shown)
    except (KeyError, IndexError):  # a kind or value this version does not know
        return FAILURES["unreadable"]


def unread_file(kind: str | None, values: Mapping[str, object] | None = None,
                reason: str | None = None) -> str:
    """"Filen kunde inte läsas. Filen är tom (0 byte).": where a file is named as unreadable
    among others (a report, a summary's row, the note beside it)."""
    said, lead = failure(kind, values, reason), FAILURES["unreadable"]
    return said if said.startswith(lead[:-1]) else f"{lead} {said}"


def _number(value: object) -> object:
    # Swedish decimals have a comma: "2,5 s".
    return f"{value:g}".replace(".", ",") if isinstance(value, float) else value


def message(code: str, **values: object) -> str:
    return MESSAGES[code].format(**values)

# The codes a problem can have; the other messages are wordings of `missing` (a heading nothing
# could place, the own contribution) and of `scanned` (why OCR could not read it, or did not try).
PROBLEM_CODES = frozenset(MESSAGES) - {"missing_maybe", "missing_own_contribution", "scanned_unread",
                                       "scanned_not_tried"}
