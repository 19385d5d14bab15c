"""The rule engine: YAML rules → one automaton → matches with evidence. Pure: no I/O but reading rule files."""

from monitor.rules.evaluate import Matcher
from monitor.rules.loader import load_rules
from monitor.rules.model import Rule, RuleSet

__all__ = ["Matcher", "Rule", "RuleSet", "load_rules"]
