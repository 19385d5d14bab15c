"""The shared corpus's listings, Telegram pages, GDELT records and sanctions lists through our parsers,
and what each file's MANIFEST.tsv states about it (../shared/corpus/README.md).

Every file goes through its kind's parser (nothing raises, nothing hangs); the stated counts, ids,
names and dates are checked one by one below. Where our model differs from the origin's on purpose,
the test says so next to the assertion. Files are read as bytes: decoding is part of what is tested.
"""

from __future__ import annotations

import csv
import functools
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from monitor.config import GdeltSourceConfig, HtmlSourceConfig, SanctionsSourceConfig, TelegramSourceConfig
from monitor.models import Article, FetchResult, Parsed
from monitor.sources import gdelt, html, sanctions, telegram
from monitor.sources.lists import Designation, read_list

CORPUS = Path(__file__).parents[1].parent / "shared" / "corpus"
if not (CORPUS / "listings" / "MANIFEST.tsv").is_file():
    pytest.skip(f"no corpus at {CORPUS} (CI checks out ../shared beside the repo)", allow_module_level=True)

FETCHED_AT = datetime(2025, 12, 1, 12, 0, tzinfo=UTC)
TIME_LIMIT = 5.0


def inputs(folder: str) -> list[str]:
    return sorted(p.name for p in (CORPUS / folder).iterdir() if p.name != "MANIFEST.tsv")


def fetched(folder: str, name: str, url: str = "https://corpus.example/") -> FetchResult:
    return FetchResult(url=url, status=200, content=(CORPUS / folder / name).read_bytes(), headers={},
                       fetched_at=FETCHED_AT)


def timed(parse: object, result: FetchResult, source: object) -> Parsed:
    started = time.perf_counter()
    answer = parse(result, source)  # type: ignore[operator]
    assert time.perf_counter() - started < TIME_LIMIT
    assert isinstance(answer, Parsed)
    assert all(isinstance(p, str) and p for p in answer.problems)
    for article in answer.articles:
        assert isinstance(article, Article) and article.guid and (article.title or article.content)
        assert article.published is None or article.published.tzinfo is not None
    return answer


@functools.cache
def manifest(folder: str) -> dict[str, dict[str, str]]:
    with (CORPUS / folder / "MANIFEST.tsv").open(encoding="utf-8", newline="") as file:
        return {row["file"]: row for row in csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)}


@pytest.mark.parametrize("folder", ["listings", "telegram", "gdelt", "sanctions"])
def test_every_file_has_provenance(folder: str) -> None:
    assert set(inputs(folder)) <= set(manifest(folder))


# --- listings: the selector sets stated in MANIFEST.tsv ------------------------------------------

LISTINGS = {
    "newspaper4k__cnn_main_site.html": HtmlSourceConfig(
        name="cnn", url="http://cnn.com/", item='ul.cnn_bulletbin > li:has(> a[href*="/20"])',
        title='a[href*="/20"]', link='a[href*="/20"]'),
    "RadarFlow__rfi.html": HtmlSourceConfig(
        name="rfi", url="https://www.rfi.fr/cn/",
        item='div.m-item-list-article[data-article-list]:has(a[data-article-item-link][href*="/20"])',
        title=".article__title", link="a[data-article-item-link]"),
    "RadarFlow__bbc_zhongwen.html": HtmlSourceConfig(
        name="bbc-zh", url="https://www.bbc.com/zhongwen/simp", item="div.promo-text", title="h3 a",
        link="h3 a[href]", date="time[datetime]", summary="p"),
    "RadarFlow__8world.html": HtmlSourceConfig(
        name="8world", url="https://www.8world.com/world", item=".category__listing article.article",
        title="h3.article-title span", link="a.article-link", date=".article-time time[datetime]",
        timezone="Asia/Singapore", language="zh"),
    "bidwire__boston_public_notices_index.html": HtmlSourceConfig(
        name="boston", url="https://www.boston.gov/public-notices", item="div.n-li", title=".n-li-t a",
        link=".n-li-t a[href]", date=".date-display-single[content]", summary=".n-li-a"),
}


@functools.cache
def listing(name: str) -> Parsed:
    source = LISTINGS[name]
    return timed(html.parse, fetched("listings", name, source.url), source)


def test_every_listing_has_its_selectors() -> None:
    assert set(LISTINGS) == set(inputs("listings"))


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_listing_parses_cleanly(name: str) -> None:
    answer = listing(name)
    assert answer.problems == ()
    assert all(a.url.startswith(("http://", "https://")) for a in answer.articles)
    assert all(a.published is not None for a in answer.articles)  # markup, else the URL's date


def test_cnn_192_items_dates_from_the_url() -> None:
    articles = listing("newspaper4k__cnn_main_site.html").articles
    assert len(articles) == 192 and len({a.url for a in articles}) == 192
    assert articles[0].title == "Search for missing Algerie flight"
    assert articles[0].url.startswith("http://cnn.com/video/data/2.0/video/world/2014/07/24/")
    assert articles[0].published == datetime(2014, 7, 24, tzinfo=UTC)  # no date markup: /YYYY/MM/DD/ in the URL
    assert articles[-1].title == ("Israel shelling of Gaza hospitals \u2018needs to be questioned,\u2019 says "
                                  "Israeli Justice Minister Tzipi Livni")


def test_rfi_44_items_one_story_twice() -> None:
    source = LISTINGS["RadarFlow__rfi.html"]
    page = BeautifulSoup((CORPUS / "listings" / "RadarFlow__rfi.html").read_bytes(), "lxml")
    assert len(page.select(source.item)) == 44  # the manifest's item count
    articles = listing("RadarFlow__rfi.html").articles
    assert len(articles) == 43  # 43 distinct links: the story shown twice is one article
    assert articles[0].title == "台湾增加400亿美元国防开支 加速部署T-Dome防空系统"
    assert articles[-1].title == "空客紧急召回约6000架A320客机"
    assert all(a.url.startswith("https://www.rfi.fr/") for a in articles)
    assert articles[0].published == datetime(2025, 11, 30, tzinfo=UTC)  # the slug's YYYYMMDD-
    assert articles[0].language == "zh"  # <html lang="zh-Hans">


def test_bbc_zhongwen_38_items_with_dates_and_summaries() -> None:
    articles = listing("RadarFlow__bbc_zhongwen.html").articles
    assert len(articles) == 38
    assert articles[0].title == "竹棚争议、“官进民退”到“以灾乱港”：香港宏福苑大火后的舆情兴起和转向"
    assert articles[0].published == datetime(2025, 12, 1, tzinfo=UTC)
    # The manifest keeps the double space of the page; titles are whitespace-normalised here.
    assert articles[-1].title == "“我愿意一直做这行到60岁” 苏格兰关于性交易入罪的辩论"
    assert articles[-1].published == datetime(2025, 11, 27, tzinfo=UTC)
    assert sum(1 for a in articles if a.summary) == 30
    assert all(a.url.startswith("https://www.bbc.com/zhongwen/articles/") for a in articles)


def test_8world_day_first_dates_in_singapore_time() -> None:
    articles = listing("RadarFlow__8world.html").articles
    assert len(articles) == 12
    assert articles[0].title == "印度383对贫困新人参加集体婚礼 宾客抢薯片酿踩踏意外"
    assert articles[0].published == datetime(2025, 12, 1, 2, 56, tzinfo=UTC)  # 01/12/2025 10:56 SGT
    assert articles[-1].title == "澳洲煤炭气候示威 数百名示威者划着皮划艇冲入航道"
    assert articles[-1].published == datetime(2025, 11, 30, 14, 36, tzinfo=UTC)  # 30/11/2025 22:36 SGT
    assert articles[0].url.startswith("https://www.8world.com/world/")
    assert articles[0].language == "zh"  # configured: the page says lang="en"


def test_boston_the_six_notices_of_the_origin_test() -> None:
    articles = listing("bidwire__boston_public_notices_index.html").articles
    assert len(articles) == 10
    pairs = {(a.url.rsplit("/", 1)[1].removesuffix(".html"), a.title) for a in articles}
    assert {("29886", "Zoning Board of Appeal Hearing"), ("29871_001", "Licensed Premise Violations Hearing List"),
            ("29686_001", "Licensing Board hearing"), ("29901", "Consumer Affairs Hearing"),
            ("29836", "Conservation Commission Hearing"),  # the origin's trailing space: titles are trimmed
            ("30036_001", "Public Facilities Commission Meeting (DND)")} <= pairs
    assert articles[0].published == datetime(2017, 8, 15, 13, 30, tzinfo=UTC)  # 2017-08-15T09:30:00-04:00
    assert sum(1 for a in articles if a.summary) == 3


# --- telegram ---------------------------------------------------------------------------------


@functools.cache
def channel(name: str) -> Parsed:
    source = TelegramSourceConfig(name="tg", channel="corpus", language="ru")
    return timed(telegram.parse, fetched("telegram", name, "https://t.me/s/corpus"), source)


@pytest.mark.parametrize("name", inputs("telegram"))
def test_every_telegram_page_parses_or_says_why(name: str) -> None:
    answer = channel(name)
    assert answer.articles or answer.problems
    for article in answer.articles:
        assert article.url == f"https://t.me/{article.guid}" and "/" in article.guid
        assert article.content.strip() and article.title


def test_clash_report_17_posts() -> None:
    answer = channel("ukraine_aggregator__telegram_channel_ClashReport.html")
    ids = [int(a.guid.split("/")[1]) for a in answer.articles]
    assert len(ids) == 17 and ids[0] == 93429 and ids[-1] == 93448
    assert all(a.guid.startswith("ClashReport/") for a in answer.articles)
    first, last = answer.articles[0], answer.articles[-1]
    assert first.content.startswith("U.S. Treasury Secretary Scott Bessent says Washington is entering the "
                                    "\u201cendgame\u201d against Iran")
    assert first.published == datetime(2026, 8, 24, 3, 46, 52, tzinfo=UTC)
    assert last.published == datetime(2026, 8, 24, 7, 11, 1, tzinfo=UTC)
    assert answer.more == "https://t.me/s/corpus?before=93429"
    assert all("js-message_reply_text" not in a.content for a in answer.articles)


def test_a_reply_shows_its_own_text_not_the_quoted_parent() -> None:
    page = BeautifulSoup((CORPUS / "telegram" / "ukraine_aggregator__telegram_channel_ClashReport.html").read_bytes(),
                         "lxml")
    quoted = page.select_one(".js-message_reply_text")
    assert quoted is not None
    reply = quoted.find_parent(class_="tgme_widget_message")
    article = next(a for a in channel("ukraine_aggregator__telegram_channel_ClashReport.html").articles
                   if a.guid == reply["data-post"])
    assert " ".join(quoted.get_text().split()) not in " ".join(article.content.split())


def test_topwar_reindented_page() -> None:
    answer = channel("rust-any2feed__full.html")
    assert len(answer.articles) == 12
    first, last = answer.articles[0], answer.articles[-1]
    assert (first.guid, last.guid) == ("topwar_official/70989", "topwar_official/71008")
    assert first.title.startswith("В Санкт-Петербурге в небо над городом подняли истребители из-за неизвестного "
                                  "объекта в воздухе")
    assert "  " not in first.title and first.published == datetime(2023, 2, 28, 7, 47, 53, tzinfo=UTC)
    assert last.content.startswith("Подземные тоннели для укрытия и скрытого перемещения иранских средств ПВО")
    assert last.published == datetime(2023, 2, 28, 13, 14, 3, tzinfo=UTC)
    assert sum(1 for a in answer.articles if a.summary.startswith("Forwarded from")) == 5
    assert answer.more == "https://t.me/s/corpus?before=70989"


def test_lifemodel_anonymised_page() -> None:
    answer = channel("lifemodel__telegram-test-channel.html")
    # The origin lists 1001, 1003 and 1010; 1003 is an unsupported-media post with no text, which we skip
    # (nothing to match). The origin sorts newest first; we keep the page's order (oldest first).
    assert [a.guid for a in answer.articles] == ["test_channel/1001", "test_channel/1010"]
    assert all(a.published for a in answer.articles)
    assert answer.more == "https://t.me/s/corpus?before=1001"


def test_fragments_poll_and_forwarded_post() -> None:
    [poll] = channel("rust-any2feed__message_poll.html").articles
    assert poll.guid == "it_begin/488" and poll.published == datetime(2023, 2, 27, 16, 21, 2, tzinfo=UTC)
    assert poll.title == "Как лучше?" and "83% Один пост в несколько дней" in poll.content
    [forwarded] = channel("rust-any2feed__message_media_forwarded_from.html").articles
    assert forwarded.guid == "oper_goblin/22358"
    assert forwarded.content.startswith("Британская разведка выяснила, почему Ким Чен Ын начал выводить дочку в свет")
    assert forwarded.summary == "Forwarded from Пул N3"
    assert channel("rust-any2feed__message_poll.html").more is None


def test_new_channel_skips_the_service_message() -> None:
    [post] = channel("prstnk__tg_channel.html").articles  # 'Channel created' is not a post
    assert post.guid == "prstnk_eprst/2" and post.content.startswith("Как Штапаков травит цинк в Смольном")
    assert post.published == datetime(2026, 5, 30, 22, 25, 8, tzinfo=UTC)
    assert channel("prstnk__tg_channel.html").more is None  # only a canonical before=, no "load more"


@pytest.mark.parametrize(("name", "words"), [
    ("snscrape__deleted-page.html", "contact page"),
    ("AjT10-SSH__telegram_channel.html", "without data-post"),
])
def test_pages_without_messages_say_why(name: str, words: str) -> None:
    answer = channel(name)
    assert answer.articles == () and words in answer.problems[0]


def test_view_counts() -> None:
    assert [telegram.views(v) for v in ("943", "3.12K", "37.2K", "1.1M", "n/a")] == [943, 3120, 37200, 1_100_000,
                                                                                     None]


# --- GDELT ------------------------------------------------------------------------------------

GDELT = GdeltSourceConfig(name="gdelt", query='"north korea" russia')


def test_gdelt_bare_array_of_artlist_records() -> None:
    answer = timed(gdelt.parse, fetched("gdelt", "media_monitoring_poc__gdelt_sample.json"), GDELT)
    assert answer.problems == ()
    assert [a.published for a in answer.articles] == [datetime(2025, 12, 28, 9, 15, tzinfo=UTC),
                                                      datetime(2025, 12, 30, 7, 0, tzinfo=UTC)]
    assert [a.language for a in answer.articles] == ["id", "id"]  # "Indonesian"
    assert answer.articles[0].url == answer.articles[0].guid
    assert answer.articles[0].url.startswith("https://nasional.kompas.com/read/2025/12/28/")


def test_gdelt_wrapped_form_is_the_same() -> None:
    body = b'{"articles": ' + (CORPUS / "gdelt" / "media_monitoring_poc__gdelt_sample.json").read_bytes() + b"}"
    wrapped = gdelt.parse(FetchResult("https://x.org/", 200, body, {}, FETCHED_AT), GDELT)
    assert wrapped == gdelt.parse(fetched("gdelt", "media_monitoring_poc__gdelt_sample.json"), GDELT)


def test_an_events_export_is_not_an_artlist() -> None:
    answer = timed(gdelt.parse, fetched("gdelt", "gdelt_fetcher__20240819130000.export.head20.csv"), GDELT)
    assert answer.articles == () and "not a GDELT DOC API answer" in answer.problems[0]
    rows = (CORPUS / "gdelt" / "gdelt_fetcher__20240819130000.export.head20.csv").read_text().splitlines()
    assert len(rows) == 21 and all(len(r.split("\t")) == 61 for r in rows)  # the manifest's shape, as a check


# --- sanctions lists --------------------------------------------------------------------------


@functools.cache
def listed(name: str) -> tuple[Designation, ...]:
    document = read_list((CORPUS / "sanctions" / name).read_bytes())
    return document.designations


@pytest.mark.parametrize("name", inputs("sanctions"))
def test_every_list_file_parses_or_says_why(name: str) -> None:
    source = SanctionsSourceConfig(name="list", list="un")
    answer = timed(sanctions.parse, fetched("sanctions", name), source)
    assert answer.articles or answer.problems
    assert len({a.guid for a in answer.articles}) == len(answer.articles)


def by_key(name: str) -> dict[str, Designation]:
    return {d.key: d for d in listed(name)}


def test_ofac_sdn_excerpt() -> None:
    found = by_key("watchman__ofactest_sdn.csv")
    assert len(found) == 17
    assert (found["20540"].name, found["20540"].type, found["20540"].programs) == ("P-532", "aircraft", ("DPRK3",))
    assert (found["47371"].name, found["47371"].type) == ("NS LEADER", "vessel")
    assert found["47371"].programs == ("RUSSIA-EO14024",)
    assert "HESA" in found["11195"].aliases  # a.k.a. from the remarks
    assert found["11195"].programs == ("NPWMD", "IFSR", "IRAN-CON-ARMS-EO")  # '] [' joined
    assert not any("-0-" in " ".join(d.details) for d in found.values())


def test_ofac_full_list_and_consolidated() -> None:
    assert len(listed("watchman__sdn_full.csv")) == 7379
    # The manifest counts 443 rows; the 443rd line is the DOS end-of-file byte 0x1A, not an entry.
    assert len(listed("watchman__cons_prim.csv")) == 442


def test_ofac_side_files_are_not_lists() -> None:
    for name in ("watchman__ofactest_sdn_comments.csv", "watchman__sdn_comments_full.csv",
                 "watchman__ofactest_add.csv", "watchman__ofactest_alt.csv"):
        document = read_list((CORPUS / "sanctions" / name).read_bytes())
        assert document.designations == () and "not a list" in document.problems[0]


def test_un_consolidated() -> None:
    entries = listed("watchman__UN_consolidated.xml")
    assert len(entries) == 1003
    assert (entries[563].key, entries[563].name) == ("6908043", "ABOUD ROGO MOHAMMED")
    found = by_key("watchman__UN_consolidated.xml")
    assert found["6909290"].name == "ABUBAKAR SWALLEH"
    assert found["6908027"].name == "FORCES DEMOCRATIQUES DE LIBERATION DU RWANDA (FDLR)"
    assert found["6908027"].type == "entity"
    assert any(p.startswith("KP") for p in found["6908043"].details) is False
    assert sum(1 for d in entries if "DPRK" in d.programs or any("KP" in p for p in d.programs)) > 0


def test_eu_fsf_sample() -> None:
    found = by_key("sanctions_lists_etl__sample_eu_fsf.xml")
    assert set(found) == {"EU.3579.2", "EU.502.12", "EU.3953.70", "EU.3886.3", "EU.3092.36"}
    khalid = found["EU.3579.2"]
    assert (khalid.name, khalid.type) == ("Khalid Sheikh MOHAMMED", "individual")  # lowest logicalId alias
    assert khalid.listed == date(2005, 11, 30)  # no designationDate: the earliest regulation summary
    assert "DOB 1965-04-14" in khalid.details
    pci = found["EU.3953.70"]
    assert pci.name == "Parchin Chemical Industries (PCI)" and pci.type == "entity"
    assert found["EU.3886.3"].listed == date(2011, 2, 26) and "UN reference LYi.006" in found["EU.3886.3"].details
    assert {p for d in found.values() for p in d.programs} == {"TERR", "AFG", "IRN", "LBY", "TAQA"}
    assert sum(1 + len(d.aliases) for d in found.values()) <= 45  # 45 nameAlias, duplicates folded


def test_eu_legacy_layout() -> None:
    entries = listed("sanction-lists__eu-fsf-legacy-2016-02-11.head50.xml")
    assert len(entries) == 50
    assert (entries[0].key, entries[0].name, entries[0].programs) == ("1", "Robert Gabriel Mugabe", ("ZWE",))
    assert (entries[1].key, entries[1].name) == ("13", "Saddam Hussein Al-Tikriti")
    assert (entries[-1].key, entries[-1].name) == ("143", "Muhsin Khadr Al-Khafaji")
    assert sum(1 for d in entries if d.programs == ("IRQ",)) == 48


def test_uk_sanctions_list() -> None:
    found = by_key("sanctions_lists_etl__sample_uk_sanctions.xml")
    assert set(found) == {"AFG0001", "AFG0006", "BEL0107", "DPR0075", "AQD0195"}
    assert found["AFG0006"].name == "MOHAMMAD HASSAN AKHUND"
    assert "محمد حسن آخوند" in found["AFG0006"].aliases
    assert {"BNK UK Limited", "BNK"} <= set(found["BEL0107"].aliases)
    ship = found["DPR0075"]
    assert (ship.name, ship.type) == ("Petrel 8", "ship") and "Tian Tai 36" in ship.aliases
    assert ship.programs == ("The Democratic People's Republic of Korea (Sanctions) (EU Exit) Regulations 2019",)
    assert [d.type for d in found.values()].count("individual") == 2
    assert found["AFG0001"].listed == date(2012, 6, 29)


def test_hm_treasury_2016_and_ofsi_excerpt() -> None:
    old = by_key("sanction-lists__hmt-conlist-2016-02-12.csv")
    assert len(old) == 463  # Group IDs; 800 alias rows
    assert old["11029"].name.startswith("KYU-CHANG, Ju") and old["11036"].name.startswith("JAE-GYONG, Pak")
    assert old["11029"].programs == ("North Korea (Democratic People's Republic of Korea)",)
    assert old["13070"].name.startswith("LITVINOV, Boris") and old["12973"].name.startswith("TSAREV, Oleg")
    assert any("\u2019" in d.name + " ".join(d.details) or "é" in d.name for d in old.values())  # windows-1252 read
    ofsi = by_key("20q-master__ConList.csv")
    assert len(ofsi) == 41
    assert ofsi["13562"].name.startswith("IL, Kim Kyong") and ofsi["13556"].name == "TONG SAN 2"
    assert ofsi["12871"].name == "2ND ACADEMY OF NATURAL SCIENCES"
    assert ofsi["13526"].name == "3AO" and ofsi["13222"].name == "14TH MOTORIZED RIFLE BATTALION"


def test_canada_autonomous_list() -> None:
    entries = listed("Sanctionslist__cannada.xml")
    assert len(entries) == 4759
    russia = [d for d in entries if d.programs == ("Russia / Russie",)]
    assert len(russia) == 2426
    assert russia[0].name == "GLAZ\u2019YEV, Sergey Yur\u2019yevich" and russia[0].listed == date(2014, 3, 17)
    assert sum(1 for d in entries if any(x.startswith("IMO ") for x in d.details)) == 109
    assert any(d.name == "Balitiyskiy III" and "IMO 7612448" in d.details for d in entries)


def test_opensanctions_entities_and_delta() -> None:
    entities = listed("yente__t1_entities.ftm.json")
    assert {d.type for d in entities} <= {"organization", "person", "company", "legalentity"}
    assert any(d.name == "IRGC" for d in entities) and any(d.name == "RAB „Inter Tobacco“" for d in entities)
    delta = read_list((CORPUS / "sanctions" / "yente__t2_entities.delta.json").read_bytes())
    assert delta.designations == () and "delta file" in delta.problems[0]


@pytest.mark.parametrize("name", ["Sanctionslist__seco.xml", "watchman__bis_dpl.txt", "watchman__csl_us_invalid.csv"])
def test_lists_we_do_not_read_are_named_as_such(name: str) -> None:
    document = read_list((CORPUS / "sanctions" / name).read_bytes())
    assert document.designations == () and document.problems[0].startswith("unrecognised list format")


def test_an_entry_becomes_an_article_rules_can_read() -> None:
    source = SanctionsSourceConfig(name="ofac", list="ofac-sdn")
    answer = sanctions.parse(fetched("sanctions", "watchman__ofactest_sdn.csv"), source)
    aircraft = next(a for a in answer.articles if a.guid == "ofac-sdn:20540")
    assert aircraft.title == "P-532 (aircraft; programs: DPRK3)"
    new = sanctions.announce(aircraft, "new", source)
    assert new.title == "OFAC designates P-532 (aircraft; programs: DPRK3)"
    assert "Programs: DPRK3" in new.content
    assert new.summary == "OFAC added the aircraft P-532 to its sanctions list (programs: DPRK3); new designation on "\
                          "the OFAC SDN list."


# OFAC's legacy sdn.xml: no corpus file (see the corpus README's gaps), so a small document in the
# published layout (namespace, publshInformation, sdnEntry with akaList and programList).
SDN_XML = b"""<?xml version="1.0" standalone="yes"?>
<sdnList xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://tempuri.org/sdnList.xsd">
  <publshInformation><Publish_Date>06/19/2025</Publish_Date><Record_Count>2</Record_Count></publshInformation>
  <sdnEntry><uid>20540</uid><lastName>P-532</lastName><sdnType>Aircraft</sdnType>
    <programList><program>DPRK3</program></programList></sdnEntry>
  <sdnEntry><uid>36</uid><lastName>KIM</lastName><firstName>Jong Un</firstName><sdnType>Individual</sdnType>
    <programList><program>DPRK2</program><program>DPRK3</program></programList>
    <akaList><aka><uid>1</uid><type>a.k.a.</type><category>strong</category><lastName>KIM</lastName>
      <firstName>Chong-un</firstName></aka></akaList>
    <dateOfBirthList><dateOfBirthItem><uid>2</uid><dateOfBirth>08 Jan 1984</dateOfBirth></dateOfBirthItem>
    </dateOfBirthList></sdnEntry>
</sdnList>"""


def test_ofac_legacy_xml() -> None:
    document = read_list(SDN_XML)
    assert document.format == "ofac-xml"
    aircraft, person = document.designations
    assert (aircraft.key, aircraft.name, aircraft.type, aircraft.programs) == ("20540", "P-532", "aircraft",
                                                                               ("DPRK3",))
    assert (person.name, person.aliases, person.programs) == ("KIM, Jong Un", ("KIM, Chong-un",), ("DPRK2", "DPRK3"))
    assert "DOB 08 Jan 1984" in person.details


def test_xml_with_entities_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">]><CONSOLIDATED_LIST>&a;</CONSOLIDATED_LIST>'
    assert "declares entities" in read_list(bomb).problems[0]


def test_entities_behind_a_long_comment_are_refused() -> None:
    # The whole prolog is searched, not its first few kilobytes.
    comment = b"<!-- " + b"x" * 5000 + b" -->"
    bomb = (b'<?xml version="1.0"?>' + comment + b'<!DOCTYPE l [<!ENTITY a "aaaa">]>'
            b"<CONSOLIDATED_LIST>&a;</CONSOLIDATED_LIST>")
    assert "declares entities" in read_list(bomb).problems[0]
