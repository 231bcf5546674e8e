"""Render docs/data-dictionary.md from the field registry (python -m pipeline.dictionary > docs/data-dictionary.md)."""

from __future__ import annotations

from pipeline.schema import TABLES


def render() -> str:
    out = [
        "# Data dictionary",
        "",
        "Generated from `pipeline/schema.py` by `python -m pipeline.dictionary`; a test keeps it in sync.",
        "Money columns are exact decimals in kronor with two decimals (`decimal(18,2)`): whole-krona amounts",
        "compare equal to integers. Dates are `date32`. Codes are strings (leading zeros kept).",
        "",
    ]
    for table in TABLES.values():
        out += [f"## {table.name}.parquet", "", table.description, ""]
        if table.personal_data:
            out += ["**Personal data.** Left out with `--without-personal-data`.", ""]
        out += ["| column | type | unit | nullable | description |", "|---|---|---|---|---|"]
        for f in table.fields:
            out.append(
                f"| `{f.name}` | `{f.type}` | {f.unit or ''} | {'yes' if f.nullable else 'no'} | {f.description} |"
            )
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
