"""Workers import services, never routes: importing a blueprint package loads no page, and create_app
is the one place that imports the modules registering routes and Socket.IO handlers."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from app import ROUTE_MODULES, SOCKETIO_MODULES

ROOT = Path(__file__).resolve().parents[2]

# Imports every worker module in turn in a fresh interpreter and reports, per module, the app
# modules it loaded that register routes or handlers (by the lists create_app imports, and by name).
PROBE = """
import importlib, json, re, sys
from app import ROUTE_MODULES, SOCKETIO_MODULES
handlers = set(ROUTE_MODULES) | set(SOCKETIO_MODULES)
by_name = re.compile(r"app\\.[a-z_]+\\.(routes|recovery_routes|pages|events)$")
found = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    found[name] = sorted(m for m in sys.modules if m in handlers or by_name.match(m))
print(json.dumps(found))
"""


def worker_modules() -> list[str]:
    paths = sorted((ROOT / "workers").rglob("*.py"))
    names = [".".join(path.relative_to(ROOT).with_suffix("").parts) for path in paths]
    return [name.removesuffix(".__init__") for name in names if not name.endswith("__main__")]


def test_no_worker_module_loads_a_route_or_a_socketio_handler():
    modules = worker_modules()
    assert {"workers.follow", "workers.mail", "workers.streams", "workers.retention",
            "workers.vod", "workers.live.host"} <= set(modules)
    out = subprocess.run([sys.executable, "-c", PROBE, *modules], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    found = json.loads(out)
    assert list(found) == modules
    assert {module: loaded for module, loaded in found.items() if loaded} == {}


def test_importing_a_blueprint_package_loads_no_route():
    """The probe above would miss a route loaded by a package __init__ no worker imports today."""
    packages = sorted({name.rsplit(".", 1)[0] for name in ROUTE_MODULES + SOCKETIO_MODULES})
    out = subprocess.run([sys.executable, "-c", PROBE, *packages], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert {package: loaded for package, loaded in json.loads(out).items() if loaded} == {}


def test_create_app_imports_every_module_that_registers_on_a_blueprint():
    """A module that adds routes to a bp but is missing from ROUTE_MODULES would never register
    (its package no longer imports it)."""
    registers = re.compile(r"^@bp\.|^\s*bp\.add_url_rule\(", re.M)
    modules = {".".join(path.relative_to(ROOT).with_suffix("").parts)
               for path in (ROOT / "app").rglob("*.py")
               if path.name != "__init__.py" and registers.search(path.read_text())}
    assert "app.vods.objects" in modules and "app.auth.recovery_routes" in modules
    assert modules == set(ROUTE_MODULES)
    emits = re.compile(r"^@socketio\.on\(", re.M)
    handlers = {".".join(path.relative_to(ROOT).with_suffix("").parts)
                for path in (ROOT / "app").rglob("*.py") if emits.search(path.read_text())}
    assert handlers == set(SOCKETIO_MODULES)
