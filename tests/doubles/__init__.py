"""Test doubles that stand in for services no package can install on these machines."""

from __future__ import annotations
