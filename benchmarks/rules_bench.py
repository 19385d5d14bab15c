"""How the rule engine's cost grows with the number of rules: a synthetic pack of 10, 100 and 1,000 rules
(lexicons growing with them) over one synthetic corpus of ~4 KB articles, all in one process.

    .venv/bin/python benchmarks/rules_bench.py [--articles 400] [--repeat 3] [--shipped ../shared/eval/dev.jsonl]

Prints articles/s at each size, time(1,000 rules) / time(10 rules), and the full match against a bare
single-pass automaton scan over the same texts (the lower-cased text, the same pack's terms, nothing else),
twice: with the engine's own automaton library (ahocorasick-rs), the honest floor, and with pyahocorasick,
the reference of earlier figures. With `--shipped FILE`, also the shipped pack (`rules/`) over the
articles of a JSON-lines file as `monitor backtest` reads it. Not a test: the figures depend on the
machine; their ratios much less.

The corpus: sentences of pseudo-words (a Zipf-like draw from 6,000), in which each article mentions the
subject terms of six rules drawn from the 1,000 (in three of ten sentences) and some shared words
(countries, denials); a tenth of the articles also report one subject's action in the same sentence
(`--reporting`). A tenth of the articles are in Russian-like Cyrillic, a tenth carry Chinese-like Han
runs. So a small pack sees few of an article's subject terms and a large one sees them all, and most
articles match nothing, as in real use.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import ahocorasick
import ahocorasick_rs

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from monitor.backtest import read_articles  # noqa: E402
from monitor.models import Article  # noqa: E402
from monitor.rules import Matcher, load_rules  # noqa: E402
from monitor.text import fold  # noqa: E402

SIZES = (10, 100, 1000)
LATIN = "abcdefghijklmnoprstuvwyz"
CYRILLIC = "абвгдежзиклмнопрстуфхцчшыэюя"
HAN = "朝鲜俄罗斯派兵劳工无人机制裁导弹工厂军队协议合作部署生产供应"


def word(rng: random.Random, letters: str, low: int = 3, high: int = 10) -> str:
    return "".join(rng.choice(letters) for _ in range(rng.randint(low, high)))


def vocabulary(seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    return {"latin": [word(rng, LATIN) for _ in range(6000)], "cyrillic": [word(rng, CYRILLIC) for _ in range(3000)]}


def rule_terms(rng: random.Random, number: int) -> tuple[list[str], list[str]]:
    """A rule's two subject concepts: plain words, phrases, prefixes, Cyrillic inflections, Han."""
    first = [f"subj{number}x{k}" for k in range(4)] + [f"thing{number} part{k}" for k in range(2)]
    first += [f"stem{number}y*", f"корень{number}ш*", word(rng, HAN, 2, 3)]
    second = [f"act{number}z{k}" for k in range(4)] + [f"verb{number}q*", f"глагол{number}ф*", f"do{number} it"]
    return first, second


def write_pack(directory: Path, rules: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    (directory / "lexicons").mkdir(parents=True)
    lines = ["concepts:", "  country:", '    terms: ["northland", "southland", "eastland", "северния*", "北国"]',
             "  denial:", '    terms: ["denied", "rejected", "опроверг*"]']
    for number in range(rules):
        first, second = rule_terms(rng, number)
        lines += [f"  topic{number}:", "    terms: [" + ", ".join(f'"{t}"' for t in first) + "]",
                  f"  action{number}:", "    terms: [" + ", ".join(f'"{t}"' for t in second) + "]"]
    (directory / "lexicons" / "synthetic.yaml").write_text("\n".join(lines) + "\n")
    for number in range(rules):
        shape = number % 4
        if shape == 0:
            match = f"near: {{within: sentence, of: [{{concept: topic{number}}}, {{concept: action{number}}}, " \
                    f"{{not: {{concept: denial}}}}]}}"
        elif shape == 1:
            match = f"all: [{{concept: topic{number}}}, {{concept: country}}, " \
                    f"{{near: {{within: 8, of: [{{concept: topic{number}}}, {{concept: action{number}}}]}}}}]"
        elif shape == 2:
            either = f"{{any: [{{concept: action{number}}}, {{concept: action{(number + 1) % rules}}}]}}"
            match = f"near: {{within: paragraph, of: [{{concept: topic{number}}}, {either}]}}"
        else:
            match = f"all: [{{concept: topic{number}}}, {{concept: action{number}}}], not: {{concept: denial}}"
        (directory / f"rule{number:04d}.yaml").write_text(
            f"id: rule{number}\ntitle: synthetic rule {number}\nseverity: medium\ntags: [t{number % 4}]\n"
            f"match: {{{match}}}\n"
        )


def inflect(term: str) -> str:
    """A text's form of a term: a prefix term (`stem12y*`, `корень12ш*`) with an ending."""
    return term.replace("*", "ы" if term[0] in CYRILLIC else "es")


def corpus(count: int, universe: int, seed: int = 11, size: int = 4000, reporting: float = 0.1) -> list[Article]:
    """`reporting`: the share of articles that report what some rule looks for (its subject and its action
    in one sentence); the others only mention subjects, as most news does."""
    rng = random.Random(seed)
    words = vocabulary(seed)
    weights = [1 / (rank + 1) for rank in range(6000)]
    articles = []
    for index in range(count):
        script = "cyrillic" if index % 10 == 0 else "latin"
        pool = words[script]
        subjects = [rule_terms(random.Random(n), n) for n in rng.sample(range(universe), 6)]
        reports = rng.random() < reporting
        sentences: list[str] = []
        length = 0
        while length < size:
            chosen = rng.choices(pool[: len(weights)], weights=weights[: len(pool)], k=rng.randint(8, 20))
            if rng.random() < 0.3:
                first, second = rng.choice(subjects)
                chosen[rng.randrange(len(chosen))] = inflect(rng.choice(first))
                if reports:
                    chosen[rng.randrange(len(chosen))] = inflect(rng.choice(second))
                    reports = False
            if rng.random() < 0.1:
                chosen.append(rng.choice(["northland", "Southland", "denied", "северния"]))
            if index % 10 == 5 and rng.random() < 0.3:
                chosen.append("".join(rng.choice(HAN) for _ in range(12)) + "。")
            sentence = " ".join(chosen)
            sentences.append(sentence[0].upper() + sentence[1:] + rng.choice([".", ".", ",", ";"]) +
                             ("\n\n" if rng.random() < 0.15 else " "))
            length += len(sentences[-1])
        text = "".join(sentences)[:size]
        articles.append(Article(source="bench", guid=str(index), url="", title=" ".join(pool[:6]), content=text))
    return articles


def timed(function: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def bare_patterns(matcher: Matcher) -> list[str]:
    return sorted({piece.pattern for term in matcher.compiled.terms for piece in term.pieces})


def bare_pyahocorasick(patterns: list[str], texts: list[str]) -> Callable[[], object]:
    automaton = ahocorasick.Automaton()
    for pattern in patterns:
        automaton.add_word(pattern, pattern)
    automaton.make_automaton()
    return lambda: [sum(1 for _ in automaton.iter(t.lower())) for t in texts]


def bare_rs(patterns: list[str], texts: list[str]) -> Callable[[], object]:
    automaton = ahocorasick_rs.AhoCorasick(patterns, matchkind=ahocorasick_rs.MatchKind.Standard,
                                           implementation=ahocorasick_rs.Implementation.ContiguousNFA)
    return lambda: [len(automaton.find_matches_as_indexes(t.lower(), overlapping=True)) for t in texts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reporting", type=float, default=0.1, help="share of articles that report a subject")
    parser.add_argument("--shipped", type=Path, help="also time the shipped pack over these articles (JSON lines)")
    args = parser.parse_args()
    articles = corpus(args.articles, max(SIZES), reporting=args.reporting)
    kb = sum(len(a.title) + len(a.content.encode()) for a in articles) / len(articles) / 1024
    print(f"corpus: {len(articles)} articles, {kb:.1f} KB each on average")
    seconds: dict[int, float] = {}
    matchers: dict[int, Matcher] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            write_pack(Path(tmp) / str(size), size)
            matcher = Matcher(load_rules(Path(tmp) / str(size)))
            matchers[size] = matcher
            matched = sum(1 for a in articles for _ in matcher.match(a))
            seconds[size] = timed(lambda m=matcher: [m.match(a) for a in articles], args.repeat)
            print(f"{size:>5} rules, {len(matcher.compiled.terms):>6} terms: {len(articles) / seconds[size]:>8,.0f} "
                  f"articles/s ({seconds[size] / len(articles) * 1e6:,.0f} µs each), {matched} matches")
    texts = [a.title + "\n" + a.content for a in articles]
    bare: dict[str, dict[int, float]] = {"ahocorasick-rs": {}, "pyahocorasick": {}}
    for size in SIZES:
        patterns = bare_patterns(matchers[size])
        bare["ahocorasick-rs"][size] = timed(bare_rs(patterns, texts), args.repeat)
        bare["pyahocorasick"][size] = timed(bare_pyahocorasick(patterns, texts), args.repeat)
    fold_seconds = timed(lambda: [fold(t) for t in texts], args.repeat)
    for name, timings in bare.items():
        print(f"bare scan, {name}: " + ", ".join(f"{len(articles) / timings[s]:,.0f} articles/s at {s} rules"
                                                  for s in SIZES))
    print(f"folding alone: {len(articles) / fold_seconds:,.0f} articles/s")
    print(f"ratio time(1,000 rules) / time(10 rules): {seconds[1000] / seconds[10]:.2f} (the bare scans' own: "
          + ", ".join(f"{name} {timings[1000] / timings[10]:.2f}" for name, timings in bare.items()) + ")")
    print("ratio full match / bare scan at 1,000 rules: "
          + ", ".join(f"{seconds[1000] / timings[1000]:.2f} ({name})" for name, timings in bare.items()))
    if args.shipped:
        shipped(args.shipped, args.repeat)


def shipped(path: Path, repeat: int) -> None:
    """The shipped pack over real articles: the figure a user of the default rules sees."""
    with path.open(encoding="utf-8") as stream:
        articles = [line.article for line in read_articles(stream) if line.article is not None]
    matcher = Matcher(load_rules(ROOT / "rules"))
    seconds = timed(lambda: [matcher.match(a) for a in articles], repeat)
    size = sum(len(a.title) + len(a.content) for a in articles) / len(articles)
    matched = sum(1 for a in articles if matcher.match(a))
    print(f"shipped pack ({len(matcher.rules)} rules, {len(matcher.compiled.terms):,} terms) over {len(articles)} "
          f"articles of {path.name} (~{size:,.0f} characters, {matched} matched): {len(articles) / seconds:,.0f} "
          f"articles/s ({seconds / len(articles) * 1e6:,.0f} µs each)")


if __name__ == "__main__":
    main()
