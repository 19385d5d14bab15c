"""DESIGN.md's layers: a module imports only from layers below its own; the pure core reads no
network, database or clock."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "monitor"

# module (dotted, without "monitor.") or package prefix → layer
LAYERS = {
    "models": 0, "errors": 0,
    "config": 1, "text": 1,
    "fingerprint": 1.5, "grading": 1.5,  # on text, under events; grading on nothing
    "rules": 2, "events": 2, "notify": 2, "notify.routes": 2, "notify.render": 2, "notify.digest": 2,
    "notify.catchup": 2,
    "http": 2, "store": 2,
    "leases": 2.5,  # on store, under pipeline and daemon
    "logs": 2,  # on config: the secrets to redact
    "retention": 3, "health": 3,  # on store
    "credentials": 4,  # on the notifiers
    "sources": 3, "intake": 3, "eventlog": 3, "webdata": 3,  # webdata: the web view's read queries
    "notify.console": 3, "notify.slack": 3, "notify.email": 3, "notify.webhook": 3,
    "pipeline": 4, "notify.outbox": 4, "backtest": 4, "demo": 4,
    "daemon": 5, "web": 5,
    "cli": 6,  # the command sits on the daemon's wiring (docs/architecture.md)
}
PURE = ("text", "fingerprint", "rules", "events", "grading", "notify.routes", "notify.render", "notify.digest",
        "notify.catchup")
IMPURE_IMPORTS = ("requests", "sqlalchemy", "urllib3", "socket", "time", "apscheduler")


def layer_of(module: str) -> float:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYERS:
            return LAYERS[".".join(parts[:n])]
    raise AssertionError(f"monitor.{module} has no layer in DESIGN.md's table; add it to LAYERS and the docs")


def modules() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        name = ".".join(p for p in relative.parts if p != "__init__")
        if name:
            found.append((name, ast.parse(path.read_text(encoding="utf-8"))))
    return found


def imports(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_every_import_points_down() -> None:
    wrong = []
    for name, tree in modules():
        own = layer_of(name)
        for imported in imports(tree):
            if not imported.startswith("monitor."):
                continue
            target = imported.removeprefix("monitor.")
            same_package = name.split(".")[0] == target.split(".")[0]
            if layer_of(target) > own or (layer_of(target) == own and not same_package):
                wrong.append(f"monitor.{name} (layer {own}) imports monitor.{target} (layer {layer_of(target)})")
    assert wrong == []


def test_the_pure_core_does_no_io() -> None:
    wrong = []
    for name, tree in modules():
        if not any(name == p or name.startswith(p + ".") for p in PURE):
            continue
        for imported in imports(tree):
            if imported.split(".")[0] in IMPURE_IMPORTS:
                wrong.append(f"monitor.{name} imports {imported}")
        source = ast.unparse(tree)
        for clock in ("datetime.now(", "datetime.utcnow(", "time.time(", "date.today("):
            if clock in source:
                wrong.append(f"monitor.{name} reads the clock ({clock}); pass `now` in")
    assert wrong == []
