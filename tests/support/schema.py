"""The whole schema's table definitions, whatever the test happened to import before."""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import MetaData

import deploytrace.storage
from deploytrace.storage.base import metadata


def all_tables() -> MetaData:
    """`metadata` with every table: each storage module registers its own on import."""
    for module in pkgutil.iter_modules(deploytrace.storage.__path__):
        if module.name != "migrations":
            importlib.import_module(f"deploytrace.storage.{module.name}")
    return metadata
