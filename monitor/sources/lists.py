"""Official sanctions lists read into one shape, `Designation`, whatever their format.

The format is sniffed from the bytes, not taken from the config: OFAC's legacy CSV (`sdn.csv`,
`cons_prim.csv`: no header, `-0-` for null, programs joined by `] [`) and XML (`sdn.xml`), the UN
Security Council consolidated XML, the EU Financial Sanctions Files XML 1.1 and its legacy
`WHOLE/ENTITY` layout, the UK Sanctions List XML (FCDO), HM Treasury / OFSI ConList CSV (one row per
alias, grouped by Group ID, windows-1252), Canada's consolidated autonomous list XML, and
OpenSanctions FollowTheMoney entities (JSON lines). `read_list` never raises: what it cannot read it
says in its problems. Used by the `sanctions` source kind and by `monitor lexicon import`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from monitor.sources.markup import decode_html, without_doctypes


@dataclass(frozen=True)
class Designation:
    """One listed person, entity, vessel or aircraft."""

    key: str  # the list's own id: OFAC ent_num, UN DATAID, EU reference, UK UniqueID, HMT Group ID, FtM id
    name: str
    aliases: tuple[str, ...] = ()
    type: str = ""  # individual | entity | vessel | aircraft (the list's word, lower-cased)
    programs: tuple[str, ...] = ()
    listed: date | None = None
    details: tuple[str, ...] = ()  # "DOB 1965", "Nationality: …", remarks: text for rules and people


@dataclass(frozen=True)
class ListDocument:
    """What `read_list` made of a download."""

    format: str  # "ofac-csv", "ofac-xml", "un-xml", "eu-xml", "eu-legacy-xml", "uk-xml", "hmt-csv", "canada-xml", "ftm"
    designations: tuple[Designation, ...] = ()
    problems: tuple[str, ...] = ()
    pointer: str | None = None  # a web page that links to the list (the UK's): the list's own address


_UK_LIST_LINK = re.compile(r"""href=["']([^"']*UK-Sanctions-List\.xml[^"']*)["']""", re.IGNORECASE)
_ROOT = re.compile(rb"<([A-Za-z][\w.:-]*)")
_AKA = re.compile(r"a\.k\.a\.,?\s*'([^']+)'", re.IGNORECASE)
_NULL = "-0-"


def read_list(content: bytes, content_type: str = "") -> ListDocument:
    """A sanctions list download, as designations and problems."""
    try:
        return _read(content, content_type)
    except Exception as exc:  # a reader at a hostile edge reports, it does not raise
        return ListDocument("unknown", problems=(f"could not read the list: {type(exc).__name__}: {exc}",))


def _read(content: bytes, content_type: str) -> ListDocument:
    body = content.lstrip(b"\xef\xbb\xbf \t\r\n").rstrip(b"\x1a \t\r\n")
    if not body:
        return ListDocument("empty", problems=("the download is empty; check the url",))
    if body[:1] in (b"{", b"["):
        return _ftm(body)
    if body[:1] == b"<":
        return _xml(body, content_type)
    return _csv(body)


# --- XML ----------------------------------------------------------------------------------------


def _root_name(body: bytes) -> str:
    position = 0
    while match := _ROOT.search(body, position):
        if body[match.start() + 1 : match.start() + 2] not in (b"?", b"!"):
            return match.group(1).decode("ascii", "replace").split(":")[-1]
        position = match.end()
    return ""


def _xml(body: bytes, content_type: str) -> ListDocument:
    body, declared_entities = without_doctypes(body)  # no XML parser ever sees a DTD
    if declared_entities:
        return ListDocument("xml", problems=("the XML declares entities; refused (no sanctions list does)",))
    root_name = _root_name(body)
    readers: dict[str, tuple[str, Callable[[ET.Element], Iterator[Designation]]]] = {
        "CONSOLIDATED_LIST": ("un-xml", _un), "export": ("eu-xml", _eu), "WHOLE": ("eu-legacy-xml", _eu_legacy),
        "Designations": ("uk-xml", _uk), "sdnList": ("ofac-xml", _ofac_xml), "data-set": ("canada-xml", _canada),
    }
    if root_name.lower() == "html":
        return _page(body, content_type)
    if root_name not in readers:
        known = "OFAC SDN, UN, EU, UK, HM Treasury, Canada, OpenSanctions"
        return ListDocument("xml", problems=(f"unrecognised list format (XML root <{root_name}>); known: {known}",))
    name, reader = readers[root_name]
    root = ET.fromstring(body)
    _strip_namespaces(root)
    return _collect(name, reader(root))


def _page(body: bytes, content_type: str) -> ListDocument:
    text = decode_html(body, content_type)
    link = _UK_LIST_LINK.search(text)
    if link:
        return ListDocument("html", pointer=link.group(1).replace("&amp;", "&"))
    return ListDocument("html", problems=("not a sanctions list (got an HTML page); check the url",))


def _strip_namespaces(root: ET.Element) -> None:
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]


def _collect(name: str, designations: Iterable[Designation]) -> ListDocument:
    found = [d for d in designations if d.name]
    keys = [d.key for d in found]
    problems: tuple[str, ...] = ()
    if len(set(keys)) != len(keys):
        problems = (f"{len(keys) - len(set(keys))} duplicate entry ids; the last of each is kept",)
        found = list({d.key: d for d in found}.values())
    return ListDocument(name, tuple(found), problems)


def _text(element: ET.Element | None, path: str = "") -> str:
    found = element.find(path) if element is not None and path else element
    return " ".join((found.text or "").split()) if found is not None else ""


def _texts(element: ET.Element, path: str) -> list[str]:
    return [t for t in (" ".join((e.text or "").split()) for e in element.findall(path)) if t]


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _iso_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _dmy_date(value: str) -> date | None:
    try:
        return datetime.strptime(value.strip(), "%d/%m/%Y").date()
    except ValueError:
        return None


def _un(root: ET.Element) -> Iterator[Designation]:
    for entry in root.iter():
        if entry.tag not in ("INDIVIDUAL", "ENTITY"):
            continue
        parts = [_text(entry, tag) for tag in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")]
        aliases = _texts(entry, "./INDIVIDUAL_ALIAS/ALIAS_NAME") + _texts(entry, "./ENTITY_ALIAS/ALIAS_NAME")
        original = _text(entry, "NAME_ORIGINAL_SCRIPT")
        births = [_text(b, "DATE") or _text(b, "YEAR") for b in entry.findall("INDIVIDUAL_DATE_OF_BIRTH")]
        details = [f"UN reference {_text(entry, 'REFERENCE_NUMBER')}", *(f"DOB {b}" for b in births if b),
                   *(f"Nationality: {n}" for n in _texts(entry, "./NATIONALITY/VALUE")), _text(entry, "COMMENTS1")]
        yield Designation(
            key=_text(entry, "DATAID"), name=" ".join(p for p in parts if p),
            aliases=_unique([*aliases, original]), type="individual" if entry.tag == "INDIVIDUAL" else "entity",
            programs=_unique([_text(entry, "UN_LIST_TYPE")]), listed=_iso_date(_text(entry, "LISTED_ON")),
            details=_unique(details),
        )


def _eu(root: ET.Element) -> Iterator[Designation]:
    for entry in root.iter("sanctionEntity"):
        aliases = sorted(entry.findall("nameAlias"), key=lambda a: int(a.get("logicalId") or 0))
        names = _unique(" ".join((a.get("wholeName") or "").split()) for a in aliases)
        if not names:
            continue
        subject = entry.find("subjectType")
        dates = [r.get("publicationDate") or "" for r in entry.iter("regulationSummary")]
        listed = _iso_date(entry.get("designationDate") or "") or _iso_date(min((d for d in dates if d), default=""))
        details = [f"EU reference {entry.get('euReferenceNumber')}",
                   *(f"UN reference {u}" for u in [entry.get("unitedNationId")] if u),
                   *(f"DOB {b.get('birthdate') or b.get('year') or ''}".strip() for b in entry.iter("birthdate")
                     if b.get("birthdate") or b.get("year")),
                   *(f"Citizenship: {c.get('countryDescription')}" for c in entry.iter("citizenship")
                     if c.get("countryDescription")),
                   *_texts(entry, "remark")]
        yield Designation(
            key=entry.get("euReferenceNumber") or entry.get("logicalId") or names[0], name=names[0],
            aliases=names[1:], type={"person": "individual", "enterprise": "entity"}.get(
                (subject.get("code") or "") if subject is not None else "", ""),
            programs=_unique(r.get("programme") or "" for r in entry.iter("regulation")), listed=listed,
            details=_unique(d for d in details if d != "DOB"),
        )


def _eu_legacy(root: ET.Element) -> Iterator[Designation]:
    for entry in root.iter("ENTITY"):
        names = _unique(_texts(entry, "./NAME/WHOLENAME"))
        if not names:
            continue
        births = [_text(b, "DATE") for b in entry.findall("BIRTH")]
        yield Designation(
            key=entry.get("Id") or names[0], name=names[0], aliases=names[1:],
            type={"P": "individual", "E": "entity"}.get(entry.get("Type") or "", ""),
            programs=_unique([entry.get("programme") or ""]), listed=_iso_date(entry.get("reg_date") or ""),
            details=_unique([*(f"DOB {b}" for b in births if b),
                             *(f"Citizenship: {c}" for c in _texts(entry, "./CITIZEN/COUNTRY"))]),
        )


def _uk(root: ET.Element) -> Iterator[Designation]:
    for entry in root.iter("Designation"):
        primary, aliases = "", []
        for name in entry.findall("./Names/Name"):
            whole = " ".join(p for p in (_text(name, f"Name{i}") for i in range(1, 7)) if p)
            if _text(name, "NameType").lower() == "primary name" and not primary:
                primary = whole
            else:
                aliases.append(whole)
        aliases += _texts(entry, "./NonLatinNames/NonLatinName/NameNonLatinScript")
        details = [f"UK reference {_text(entry, 'UniqueID')}", _text(entry, "UNReferenceNumber"),
                   *(f"DOB {d}" for d in _texts(entry, ".//DOB")), _text(entry, "SanctionsImposed"),
                   _text(entry, "OtherInformation")]
        yield Designation(
            key=_text(entry, "UniqueID"), name=primary or (aliases.pop(0) if aliases else ""),
            aliases=_unique(aliases), type=_text(entry, "IndividualEntityShip").lower(),
            programs=_unique([_text(entry, "RegimeName")]), listed=_dmy_date(_text(entry, "DateDesignated")),
            details=_unique(details),
        )


def _ofac_xml(root: ET.Element) -> Iterator[Designation]:
    for entry in root.iter("sdnEntry"):
        def whole(element: ET.Element) -> str:
            last, first = _text(element, "lastName"), _text(element, "firstName")
            return f"{last}, {first}" if first else last
        yield Designation(
            key=_text(entry, "uid"), name=whole(entry), aliases=_unique(whole(a) for a in entry.iter("aka")),
            type=_text(entry, "sdnType").lower(), programs=_unique(_texts(entry, "./programList/program")),
            details=_unique([*(f"DOB {d}" for d in _texts(entry, ".//dateOfBirth")),
                             *(f"Nationality: {n}" for n in _texts(entry, ".//nationality/country")),
                             _text(entry, "remarks")]),
        )


def _canada(root: ET.Element) -> Iterator[Designation]:
    for number, entry in enumerate(root.iter("record"), start=1):
        person = ", ".join(p for p in (_text(entry, "LastName"), _text(entry, "GivenName")) if p)
        name = person or _text(entry, "EntityOrShip") or _text(entry, "TitleOrShip")
        country = _text(entry, "Country")
        key = "|".join((country, _text(entry, "Schedule"), _text(entry, "Item"))) if _text(entry, "Item") else str(
            number)
        imo = _text(entry, "ShipIMONumber")
        yield Designation(
            key=key, name=name, aliases=_unique(a.strip() for a in _text(entry, "Aliases").split(",")),
            type="individual" if person else ("vessel" if imo else "entity"), programs=_unique([country]),
            listed=_iso_date(_text(entry, "DateOfListing")),
            details=_unique([f"Schedule {_text(entry, 'Schedule')}, item {_text(entry, 'Item')}",
                             *(f"IMO {imo}" for _ in [1] if imo),
                             *(f"DOB {d}" for d in [_text(entry, "DateOfBirthOrShipBuildDate")] if d)]),
        )


# --- CSV ----------------------------------------------------------------------------------------


def _decoded(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("windows-1252", errors="replace")  # OFAC and HM Treasury files


def _csv(body: bytes) -> ListDocument:
    text = _decoded(body)
    first = text.split("\n", 1)[0]
    if first.startswith("Last Updated,") or "Group ID" in first:
        return _hmt(text)
    rows = list(csv.reader(io.StringIO(text)))
    widths = {len(r) for r in rows if r}
    if rows and rows[0] and rows[0][0].strip().isdigit():
        if widths == {12}:
            return _collect("ofac-csv", _ofac_csv(rows))
        named = {2: "sdn_comments.csv (remarks that overflow sdn.csv)", 6: "add.csv (addresses)",
                 5: "alt.csv (aliases)"}
        what = named.get(max(widths), "a file beside sdn.csv")
        return ListDocument("ofac-csv", problems=(f"this is OFAC's {what}, not a list; point url at sdn.csv",))
    if "\t" in first:
        return ListDocument("tsv", problems=("unrecognised list format (tab-separated; BIS Denied Persons?); known: "
                                             "OFAC SDN, UN, EU, UK, HM Treasury, Canada, OpenSanctions",))
    return ListDocument("csv", problems=(f'unrecognised list format (CSV starting "{first[:60]}"); known: '
                                         "OFAC SDN, UN, EU, UK, HM Treasury, Canada, OpenSanctions",))


def _ofac_field(value: str) -> str:
    value = value.strip()
    return "" if value == _NULL else " ".join(value.split())


def _ofac_csv(rows: list[list[str]]) -> Iterator[Designation]:
    for row in rows:
        if len(row) != 12 or not row[0].strip().isdigit():
            continue
        number, name, kind, programs, title, *_, remarks = (_ofac_field(v) for v in row)
        yield Designation(
            key=number, name=name, aliases=_unique(_AKA.findall(remarks)), type=kind.lower() or "entity",
            programs=_unique(p.strip(" []") for p in programs.split("] [")),
            details=_unique([f"Title: {title}" if title else "", remarks]),
        )


def _hmt(text: str) -> ListDocument:
    lines = text.splitlines()
    if lines and lines[0].startswith("Last Updated,"):
        lines = lines[1:]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    if not rows:
        return ListDocument("hmt-csv", problems=("the list has no header row",))
    header, data = rows[0], [r for r in rows[1:] if any(c.strip() for c in r)]
    if header and not header[0].strip() and data and len(header) == len(data[0]) + 1:
        header = header[1:]  # OFSI's ConList: one more (empty, leading) header field than in the rows
    groups: dict[str, list[dict[str, str]]] = {}
    skipped = 0
    for row in data:
        record = dict(zip(header, (" ".join(c.split()) for c in row), strict=False))
        group = record.get("Group ID", "")
        if not group.isdigit():
            skipped += 1
            continue
        groups.setdefault(group, []).append(record)
    problems = (f"{skipped} rows skipped: no Group ID",) if skipped else ()
    document = _collect("hmt-csv", (_hmt_designation(key, records) for key, records in groups.items()))
    return ListDocument(document.format, document.designations, problems + document.problems)


def _hmt_designation(key: str, records: list[dict[str, str]]) -> Designation:
    def whole(record: dict[str, str]) -> str:
        given = " ".join(record.get(f"Name {i}", "") for i in range(1, 6) if record.get(f"Name {i}"))
        surname = record.get("Name 6", "")
        return f"{surname}, {given}" if surname and given else surname or given

    primary = next((r for r in records if r.get("Alias Type", "").lower().startswith("primary")), records[0])
    first = records[0]
    return Designation(
        key=key, name=whole(primary), aliases=_unique(whole(r) for r in records if r is not primary),
        type=first.get("Group Type", "").lower(), programs=_unique([first.get("Regime", "")]),
        listed=_dmy_date(first.get("Listed On", "")),
        details=_unique([*(f"DOB {r['DOB']}" for r in records if r.get("DOB")),
                         *(f"Nationality: {first['Nationality']}" for _ in [1] if first.get("Nationality")),
                         first.get("Other Information", "")]),
    )


# --- OpenSanctions FollowTheMoney ---------------------------------------------------------------

_TARGET_SCHEMAS = frozenset({"Person", "Organization", "Company", "LegalEntity", "PublicBody", "Vessel", "Airplane"})


def _ftm(body: bytes) -> ListDocument:
    text = _decoded(body)
    if text.lstrip().startswith("["):
        records: list[Any] = json.loads(text)
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    return ListDocument("ftm", problems=(f"line {number} is not JSON; not a FollowTheMoney export",))
    entities = [r.get("entity") if isinstance(r, dict) and "op" in r else r for r in records]
    if any("op" in r for r in records if isinstance(r, dict)):
        problem = "a delta file (op ADD/MOD/DEL), not a whole export; point url at entities.ftm.json"
        return ListDocument("ftm", problems=(problem,))
    return _collect("ftm", (d for e in entities if isinstance(e, dict) for d in _ftm_entity(e)))


def _ftm_entity(entity: dict[str, Any]) -> Iterator[Designation]:
    if entity.get("schema") not in _TARGET_SCHEMAS or entity.get("target") is False:
        return
    props = entity.get("properties") or {}

    def values(name: str) -> list[str]:
        found = props.get(name) or []
        return [" ".join(str(v).split()) for v in found] if isinstance(found, list) else []

    caption = " ".join(str(entity.get("caption") or "").split()) or next(iter(values("name")), "")
    yield Designation(
        key=str(entity.get("id") or caption), name=caption,
        aliases=_unique(n for n in values("name") + values("alias") + values("weakAlias") if n != caption),
        type=str(entity.get("schema") or "").lower(),
        programs=_unique(values("programId") or values("program") or [str(d) for d in entity.get("datasets") or []]),
        listed=_iso_date(str(entity.get("first_seen") or "")) or _iso_date(next(iter(values("createdAt")), "")),
        details=_unique([*(f"Country: {c}" for c in values("country")), *(f"DOB {d}" for d in values("birthDate")),
                         *values("notes")[:1]]),
    )
