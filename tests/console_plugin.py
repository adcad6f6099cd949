"""The push console's plugin module, loaded the way Airflow loads files from `plugins/`."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from tests.conftest import ROOT

if TYPE_CHECKING:
    from types import ModuleType

    from fastapi import FastAPI

PLUGIN_FILE = ROOT / "plugins" / "bugzilla_push_console.py"


def load_plugin() -> ModuleType:
    """Execute `plugins/bugzilla_push_console.py` as a module of its own."""
    spec = importlib.util.spec_from_file_location("bugzilla_push_console", PLUGIN_FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def console_app() -> FastAPI:
    """Build the console's app exactly as the plugin does on its first request."""
    return load_plugin().create_app()
