"""The option tables in docs/, generated from the models they describe so they cannot drift.

Each table sits in its page between two markers:

    <!-- options: pulse -->
    | option | default | required | description |
    | --- | --- | --- | --- |
    | `exchange` | `null` | no | … |
    <!-- /options -->

Tables: one per connector page (`docs/connectors/<name>.md`, the connector's own `Options` fields),
`common` (fields every connector's `Options` inherits from a shared base, once, in
`docs/connectors/index.md`) and `delivery` (`DeliveryConfig`, in `docs/configuration.md`).

    .venv/bin/python -m scripts.docs_options            # print every table as the models say
    .venv/bin/python -m scripts.docs_options --write    # rewrite the tables in their pages
    .venv/bin/python -m scripts.docs_options --check    # exit 1 if a page differs from its model

`--write` keeps each row's description; a new option gets the model's `Field(description=…)` or
none, which `tests/docs/test_connector_docs.py` refuses until someone writes it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONNECTOR_DOCS = DOCS / "connectors"
HEADER = "| option | default | required | description |\n| --- | --- | --- | --- |"
REGION = re.compile(r"<!-- options: (?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /options -->", re.DOTALL)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True)
class Row:
    """One option as a table row.

    :param name: the key in the connection's extra (the alias when the field has one)
    :param default: the default as JSON, or None when the option is required
    :param description: what it does and what it trades; empty when nobody wrote it yet
    """

    name: str
    default: str | None
    required: bool
    description: str = ""

    def spec(self) -> tuple[str, str | None, bool]:
        return self.name, self.default, self.required


@dataclass(frozen=True)
class Table:
    """A table the docs must carry: where, and the rows its model gives.

    :param name: the marker's name
    :param page: the page that holds it
    :param rows: the model's rows (descriptions only where the model has them)
    """

    name: str
    page: Path
    rows: list[Row]


def _json(value: Any) -> str:
    return json.dumps(to_jsonable_python(value), ensure_ascii=False)


def model_rows(model: type) -> list[Row]:
    """Rows of a pydantic model (by alias) or of a dataclass, in declaration order."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        rows = []
        for name, field in model.model_fields.items():
            required = field.is_required()
            default = None if required else _json(field.get_default(call_default_factory=True))
            rows.append(Row(field.alias or name, default, required, field.description or ""))
        return rows
    if dataclasses.is_dataclass(model):
        rows = []
        for field in dataclasses.fields(model):
            if field.default is not dataclasses.MISSING:
                rows.append(Row(field.name, _json(field.default), False))
            elif field.default_factory is not dataclasses.MISSING:
                rows.append(Row(field.name, _json(field.default_factory()), False))
            else:
                rows.append(Row(field.name, None, True))
        return rows
    raise TypeError(f"{model!r} is neither a pydantic model nor a dataclass")


def connector_classes() -> dict[str, type]:
    """Each connector class in the registry by page name: its module under `bugzilla_push.connectors`."""
    from bugzilla_push.connectors.registry import KINDS

    classes: dict[str, type] = {}
    for target in KINDS.values():
        module, _, cls = target.partition(":")
        classes[module.removeprefix("bugzilla_push.connectors.").split(".")[0]] = getattr(
            import_module(module), cls
        )
    return classes


def shared_bases(models: list[type[BaseModel]]) -> list[type[BaseModel]]:
    """The option models every connector's `Options` derives from (not pydantic's own)."""
    if not models:
        return []
    shared = set.intersection(*(set(m.__mro__) for m in models))
    return [c for c in models[0].__mro__ if c in shared and issubclass(c, BaseModel) and c is not BaseModel]


def connector_tables(options: dict[str, type[BaseModel]]) -> list[Table]:
    """The common table (fields of the shared bases), then each connector's own options."""
    common: dict[str, Row] = {}
    for base in reversed(shared_bases(list(options.values()))):
        common.update({row.name: row for row in model_rows(base)})
    found = [Table("common", CONNECTOR_DOCS / "index.md", list(common.values()))]
    for page, model in sorted(options.items()):
        # A connector lists its own options, and a shared one only where it changes its default.
        own = [r for r in model_rows(model) if r.name not in common or r.spec() != common[r.name].spec()]
        found.append(Table(page, CONNECTOR_DOCS / f"{page}.md", own))
    return found


def tables() -> list[Table]:
    """Every table the docs must carry, with the rows the code gives today."""
    from bugzilla_push.config import DeliveryConfig
    from bugzilla_push.connectors.webhook.bugzilla_table import TABLE_WEBHOOKS, TableWebhookSettings

    delivery = Table("delivery", DOCS / "configuration.md", model_rows(DeliveryConfig))
    table_webhooks = Table(TABLE_WEBHOOKS, CONNECTOR_DOCS / "webhook.md", model_rows(TableWebhookSettings))
    options = {page: cls.Options for page, cls in connector_classes().items()}
    return [*connector_tables(options), delivery, table_webhooks]


def _cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(line.strip().strip("|"))]


def parse_table(body: str) -> list[Row]:
    """Rows of a table as written in a page (the region between its markers)."""
    rows = []
    for line in body.strip().splitlines()[2:]:
        cells = _cells(line)
        if len(cells) != 4:
            raise ValueError(f"a row needs 4 cells (option, default, required, description): {line!r}")
        name, default, required, description = cells
        if required not in ("yes", "no"):
            raise ValueError(f"'required' is yes or no, not {required!r}: {line!r}")
        rows.append(
            Row(
                name.strip("`"),
                None if default == "—" else default.strip("`"),
                required == "yes",
                description,
            )
        )
    return rows


def page_tables(text: str) -> dict[str, list[Row]]:
    """The tables of one page, by marker name."""
    return {m["name"]: parse_table(m["body"]) for m in REGION.finditer(text)}


def render(rows: list[Row]) -> str:
    lines = [HEADER]
    for row in rows:
        default = "—" if row.required else f"`{row.default}`"
        description = row.description.replace("|", "\\|")
        lines.append(f"| `{row.name}` | {default} | {'yes' if row.required else 'no'} | {description} |")
    return "\n".join(lines) + "\n"


def differences(table: Table, written: list[Row] | None) -> list[str]:
    """What the page says that its model does not (empty: they agree)."""
    where = f"{table.page.relative_to(ROOT)} table {table.name!r}"
    if written is None:
        return [f"{where}: missing (add the markers <!-- options: {table.name} --> … <!-- /options -->)"]
    problems = []
    code = {r.name: r for r in table.rows}
    docs = {r.name: r for r in written}
    for name in code.keys() - docs.keys():
        problems.append(f"{where}: option {name!r} is in the model but not documented")
    for name in docs.keys() - code.keys():
        problems.append(f"{where}: option {name!r} is documented but not in the model")
    for name in code.keys() & docs.keys():
        model, page = code[name], docs[name]
        if model.default != page.default:
            problems.append(
                f"{where}: {name!r} defaults to {model.default} in the model, {page.default} in the docs"
            )
        if model.required != page.required:
            problems.append(f"{where}: {name!r} required is {model.required} in the model, not in the docs")
        if not page.description:
            problems.append(f"{where}: {name!r} has no description")
    return sorted(problems)


def check() -> list[str]:
    """Every difference between the docs and the code; also a marker no model backs."""
    problems = []
    expected = tables()
    written: dict[Path, dict[str, list[Row]]] = {}
    for table in expected:
        if table.page not in written:
            written[table.page] = page_tables(table.page.read_text()) if table.page.exists() else {}
        problems += differences(table, written[table.page].get(table.name))
    known = {t.name for t in expected}
    for page in sorted(DOCS.rglob("*.md")):
        for name in page_tables(page.read_text()).keys() - known:
            problems.append(f"{page.relative_to(ROOT)}: table {name!r} matches no model")
    return problems


def write() -> list[Path]:
    """Rewrite every table in its page from its model, keeping the descriptions written there."""
    changed = []
    expected = tables()
    for page in sorted({t.page for t in expected}):
        text = page.read_text() if page.exists() else ""
        new = text
        for table in (t for t in expected if t.page == page):
            old = page_tables(new).get(table.name)
            if old is None:
                new = new.rstrip("\n") + f"\n\n<!-- options: {table.name} -->\n<!-- /options -->\n"
                old = []
            described = {r.name: r.description for r in old}
            rows = [
                dataclasses.replace(r, description=described.get(r.name) or r.description) for r in table.rows
            ]
            block = f"<!-- options: {table.name} -->\n{render(rows)}<!-- /options -->"
            new = REGION.sub(lambda m, b=block, n=table.name: b if m["name"] == n else m[0], new)
        if new != text:
            page.write_text(new)
            changed.append(page)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="rewrite the tables in their pages")
    action.add_argument("--check", action="store_true", help="exit 1 if a page differs from its model")
    args = parser.parse_args(argv)
    if args.write:
        for page in write():
            print(f"rewrote {page.relative_to(ROOT)}")
        return 0
    if args.check:
        problems = check()
        print("\n".join(problems) or "every option table matches its model")
        return 1 if problems else 0
    for table in tables():
        print(f"<!-- options: {table.name} --> in {table.page.relative_to(ROOT)}\n{render(table.rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
