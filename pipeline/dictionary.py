"""Render docs/data-dictionary.md from the field registry (python -m pipeline.dictionary > docs/data-dictionary.md)."""

from __future__ import annotations

from parsers.lookups import reference_values, vocabulary
from pipeline.schema import TABLES, CheckSpec, Field, Table, column_sources


def _check(check: CheckSpec | None) -> str:
    if check is None:
        return ""
    return f"check `{check.name}` ({'blocking' if check.blocking else 'warning'})"


def _number(value: float) -> str:
    return f"{value:g}"


def field_constraints(f: Field) -> str:
    """A field's value constraints in words, and the check that tests them."""
    parts = []
    if f.enum:
        parts.append("one of " + ", ".join(f"`{value}`" for value in f.enum))
    if f.values_from is not None:
        values = ", ".join(sorted(reference_values(f.values_from)))
        parts.append(f"one of the reference list `{f.values_from}` (parsers/data): {values}")
    if f.minimum is not None and f.maximum is not None:
        parts.append(f"{_number(f.minimum)} ≤ value ≤ {_number(f.maximum)}")
    elif f.minimum is not None:
        parts.append(f"≥ {_number(f.minimum)}")
    elif f.maximum is not None:
        parts.append(f"≤ {_number(f.maximum)}")
    if f.check is not None:
        parts.append(_check(f.check))
    return "; ".join(parts)


def table_constraints(table: Table) -> list[str]:
    """The constraints of a table across its columns and rows, one line each."""
    lines = []
    if table.key:
        key = ", ".join(f"`{c}`" for c in table.key)
        lines.append(f"Key {key}: unique and never null" + (f"; {_check(table.key_check)}" if table.key_check else ""))
    if table.required_check is not None:
        lines.append(f"The required columns (nullable: no) are filled in every row; {_check(table.required_check)}")
    lines += [
        f"`{rule.left}` {rule.op} `{rule.right}` wherever both are known; {_check(rule.check)}" for rule in table.rules
    ]
    return lines


def render() -> str:
    out = [
        "# Data dictionary",
        "",
        "Generated from `pipeline/schema.py` by `python -m pipeline.dictionary`; a test keeps it in sync.",
        "Money columns are exact decimals in kronor with two decimals (`decimal(18,2)`): whole-krona amounts",
        "compare equal to integers. Dates are `date32`. Codes are strings (leading zeros kept).",
        "",
        "Constraints hold for the values that are there (a null is allowed wherever the column is nullable).",
        "One that names a check is tested on every run, before anything is published: a blocking check that",
        "fails stops the publish (the previous tables stay), a warning is reported. The others are kept by",
        "the code that fills the column, and the test suite checks them. *from* names the fields of the",
        "parser's vocabulary (`parsers/data/vocabulary.toml`) a column is read from.",
        "",
    ]
    fields = vocabulary()["fields"]
    for table in TABLES.values():
        out += [f"## {table.name}.parquet", "", table.description, ""]
        if table.personal_data:
            out += ["**Personal data.** Left out with `--without-personal-data`.", ""]
        sources = column_sources(table, fields)
        header = ["column", "type", "unit", "nullable", "constraints", *(["from"] if sources else []), "description"]
        out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for f in table.fields:
            cells = [f"`{f.name}`", f"`{f.type}`", f.unit or "", "yes" if f.nullable else "no", field_constraints(f)]
            if sources:
                cells.append(", ".join(f"`{s}`" for s in sources.get(f.name, ())))
            out.append("| " + " | ".join([*cells, f.description]) + " |")
        out.append("")
        if lines := table_constraints(table):
            out += ["Constraints:", "", *(f"- {line}." for line in lines), ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
