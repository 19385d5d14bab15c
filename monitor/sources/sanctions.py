"""The `sanctions` kind: an official list as a source. Each poll reads the whole list (format sniffed,
see `monitor.sources.lists`) into one article per designation; the pipeline diffs them against the last
good snapshot (`monitor.sources.snapshot`), and only a new, changed or removed designation goes on,
worded by `announce` ("OFAC designates P-532 (aircraft; programs: DPRK3)") so that rules can match it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from urllib.parse import urljoin

from monitor.config import SanctionsSourceConfig, SourceConfig
from monitor.models import Article, FetchResult, Parsed
from monitor.sources import register
from monitor.sources.lists import Designation, read_list

AUTHORITIES = {"ofac-sdn": "OFAC", "un": "The UN Security Council", "eu": "The EU", "uk": "The UK",
               "opensanctions": "A sanctions authority (via OpenSanctions)"}
LIST_NAMES = {"ofac-sdn": "the OFAC SDN list", "un": "the UN Security Council consolidated list",
              "eu": "the EU consolidated financial sanctions list", "uk": "the UK Sanctions List",
              "opensanctions": "an OpenSanctions sanctions dataset"}


def parse(result: FetchResult, source: SourceConfig) -> Parsed:
    """The `sanctions` source kind: every designation of the list as an article (diffed later)."""
    try:
        return _parse(result, source)
    except Exception as exc:  # a parser at a hostile edge reports, it does not raise
        return Parsed(problems=(f"could not read the list: {type(exc).__name__}: {exc}",))


def _parse(result: FetchResult, source: SourceConfig) -> Parsed:
    if result.not_modified:
        return Parsed()
    document = read_list(result.content, result.content_type)
    if document.pointer:
        return Parsed(more=urljoin(result.url, document.pointer))
    prefix = _list_of(source)
    articles = tuple(_article(d, prefix, source, result.fetched_at) for d in document.designations)
    return Parsed(articles, document.problems)


def _list_of(source: SourceConfig) -> str:
    return source.list if isinstance(source, SanctionsSourceConfig) else source.kind


def headline(designation: Designation) -> str:
    """`NAME (type; programs: A, B)`: what follows "OFAC designates"."""
    about = [designation.type] if designation.type else []
    if designation.programs:
        about.append(f"programs: {', '.join(designation.programs)}")
    return f"{designation.name} ({'; '.join(about)})" if about else designation.name


def _article(designation: Designation, prefix: str, source: SourceConfig, fetched_at: datetime) -> Article:
    lines = [f"Name: {designation.name}"]
    if designation.type:
        lines.append(f"Type: {designation.type}")
    if designation.aliases:
        lines.append(f"Also known as: {'; '.join(designation.aliases)}")
    if designation.programs:
        lines.append(f"Programs: {', '.join(designation.programs)}")
    if designation.listed:
        lines.append(f"Listed on: {designation.listed.isoformat()}")
    lines += designation.details
    return Article(
        source=source.name,
        guid=f"{prefix}:{designation.key}",
        url="",
        title=headline(designation),
        content="\n".join(lines),
        published=datetime.combine(designation.listed, time(), UTC) if designation.listed else None,
        fetched_at=fetched_at,
        language="en",
    )


def announce(article: Article, change: str, source: SourceConfig) -> Article:
    """One change of the list as the article rules see: new → "designates", changed → "amends the
    designation of", removed → "removes … from its sanctions list"."""
    chosen = _list_of(source)
    authority = AUTHORITIES.get(chosen, "A sanctions authority")
    listed = LIST_NAMES.get(chosen, "a sanctions list")
    fields = dict(line.split(": ", 1) for line in article.content.splitlines() if ": " in line)
    what = " ".join(p for p in ("the", fields.get("Type", "entry"), fields.get("Name", "")) if p)
    programs = f" (programs: {fields['Programs']})" if "Programs" in fields else ""
    title, summary = {
        # Worded as a report would be ("… added the vessel X to its sanctions list"), so that the
        # shipped sanctions-designation rule reads it as a designation taken.
        "new": (f"{authority} designates {article.title}",
                f"{authority} added {what} to its sanctions list{programs}; new designation on {listed}."),
        "changed": (f"{authority} amends the designation of {article.title}", f"Designation amended on {listed}."),
        "removed": (f"{authority} removes {article.title} from its sanctions list",
                    f"Delisted: removed from {listed}."),
    }[change]
    return replace(article, title=title, summary=summary)


register("sanctions", parse, announce=announce)
