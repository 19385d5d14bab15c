"""Concepts the engine brings with it, usable by every rule without a lexicon.

`hedge`: words that keep a sentence from asserting a fact (modality, hearsay, plans, conditions), in
the languages the shipped pack covers most. A rule uses it as a scope: `near: {…, asserted: true}` or
`not: {concept: hedge}` inside a `near`. Terms stay generic on purpose: a pack that needs more (its
own proposals, denials) keeps them in its lexicons.

`quantity`: a number, in digits or as a word ("10 individuals and two entities", "25,000 workers",
"тысячи рабочих").
"""

from __future__ import annotations

HEDGE_TERMS: tuple[str, ...] = (
    # English
    "may", "might", "could", "would", "possibly", "reportedly", "allegedly", "purportedly", "rumour*",
    "rumor*", "unconfirmed", "plan to", "plans to", "planning to", "considering", "consider*ing",
    "is expected to", "are expected to", "intends to", "intend to", "threaten*", "if", "whether",
    "proposal*", "propose*", "calls for", "called for", "urged", "would be",
    # Russian, Ukrainian
    "может", "могут", "могли бы", "возможно", "якобы", "предположительно", "планиру*", "намерен*",
    "рассматрива*", "если", "по слухам", "може", "можуть", "можливо", "нібито", "ймовірно", "якщо",
    "планує*", "має намір",
    # German, French, Spanish, Italian, Portuguese, Polish
    "könnte*", "möglicherweise", "angeblich", "erwägt", "falls",
    "pourrait", "pourraient", "aurait", "auraient", "prétendument", "envisage*", "projette", "éventuel*",
    "podría*", "supuestamente", "planea*", "estaría*", "potrebbe*", "presumibilmente", "avrebbe*",
    "poderia*", "supostamente", "planeja*", "może", "mogą", "rzekomo", "prawdopodobnie", "planuje*",
    # Turkish, Arabic, Persian, Hebrew
    "iddiaya göre", "olabilir", "planlıyor", "قد", "ربما", "يعتزم", "يخطط", "إذا", "شاید", "احتمالا",
    "ممکن است", "اگر", "אולי", "ייתכן", "לכאורה", "מתכנן*",
    # Chinese, Japanese, Korean (substrings: keep them specific)
    "据称", "據稱", "可能", "或将", "计划", "計劃", "如果", "传闻", "とされる", "検討",
    "計画", "予定", "かもしれない", "もし", "가능성", "검토", "계획", "예정", "할 수", "알려졌", "만약",
)

# Hedge words that are something else in some phrases: "May" the month, "if" of "IF" funds is rare.
HEDGE_EXCEPTIONS: dict[str, tuple[str, ...]] = {
    "may": ("in may", "of may", "since may", "until may", "early may", "late may", "mid may", "may 1*", "may 2*",
            "may 3*", "may 0*", "may 4*", "may 5*", "may 6*", "may 7*", "may 8*", "may 9*", "may day"),
}

# Hedge words that are other words in other languages count only in articles of their language: German
# "plant" (plans) is the English noun, French and Spanish "si" (if) is Italian "yes".
HEDGE_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "de": ("plant", "wenn", "soll"),
    "fr": ("si",),
    "es": ("si",),
    "it": ("se",),
    "pt": ("se",),
}


# A number: any word that starts with a digit ("10", "25 000", "1,500", "10명"), or a number word. Words
# that are also something else ("ein", "un", "one of") are left out: a count next to the counted noun
# is what a rule looks for, and digits carry most counts in news.
QUANTITY_TERMS: tuple[str, ...] = (
    "0*", "1*", "2*", "3*", "4*", "5*", "6*", "7*", "8*", "9*",
    # English
    "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "dozen*",
    "hundred*", "thousand*", "million*",
    # Russian, Ukrainian
    "два", "две", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять", "десять", "десятк*", "сотн*",
    "тысяч*", "миллион*", "дві", "чотири", "п'ять", "шість", "сім", "вісім", "дев'ять", "десятьох", "тисяч*",
    "мільйон*",
    # German, French, Spanish, Italian, Portuguese, Polish
    "zwei", "drei", "vier", "fünf", "sechs", "sieben", "neun", "zehn", "zwölf", "dutzend*", "hundert*",
    "tausend*", "deux", "trois", "quatre", "cinq", "sept", "huit", "neuf", "dix", "douze", "douzaine*",
    "mille", "millier*", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez", "doce",
    "docena*", "miles", "due", "quattro", "cinque", "sette", "otto", "nove", "dieci", "dozzin*", "migliai*",
    "dois", "duas", "três", "quatro", "dezena*", "milhares", "dwa", "dwie", "trzy", "cztery", "pięć",
    "dziesięć", "tysiąc*", "tysięcy",
)
