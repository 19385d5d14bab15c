"""The shipped rule pack, installed inside the package as `monitor.shipped_rules` (see pyproject.toml)."""
