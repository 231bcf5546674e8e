"""The naive baseline the pipeline is compared with: what a first script would do.

One process, sequential httpx requests (one connection, no concurrency), BeautifulSoup with the
pure-Python "html.parser", the page's get_text() split into lines, a fixed list of labels looked up
line by line (label on its own line with the value on the next, or the value glued after the label),
one pandas DataFrame written to Parquet. No normalisation, no chrome removal, no raw archive, no
state, no checks: it does far less than the pipeline, so it is a floor for the cost of the work,
not a like-for-like competitor.

    python -m bench.baseline --start-url http://127.0.0.1:PORT/projektbanken/ --output DIR

Prints one JSON line with its figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pandas as pd
from bs4 import BeautifulSoup

LABELS = [
    "Projektnummer",
    "Diarienummer",
    "Namn",
    "Startdatum",
    "Slutdatum",
    "Projektägare",
    "Region",
    "Planerat antal deltagare",
    "Antal deltagare",
    "Projektperiod",
    "Total projektbudget",
    "Beviljat ESF-stöd",
    "Kontaktperson",
    "E-post",
    "Telefonnummer",
    "Stödmottagare postnr",
    "Stödmottagarens postnummer",
    "Stödmottagarens address",
    "Programområde",
    "Specifikt mål",
    "Unionens medfinansieringsgrad",
    "Interventionstyp",
    "Projektfas",
    "Fond",
    "Berörd fond",
    "Programperiod",
    "NUTS-2 kod",
    "Program CCI",
    "Land som berörs",
    "Projektägare organisationsnummer",
    "Projektägare org.nr.",
    "Stödmottagare ort",
    "Stödmottagarens ort",
    "Stödmottagarens land",
    "Sekundärtema - Motverka barnfattigdom",
    "Insats av strategisk betydelse",
]
LABEL_SET = {label.lower() for label in LABELS}
# Longest first, so "Projektägare organisationsnummer" wins over "Projektägare" for glued values.
GLUED = sorted(LABELS, key=len, reverse=True)


def extract(text: str) -> dict[str, str]:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    record: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        key = line.rstrip(":").strip()
        if key.lower() in LABEL_SET:
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if nxt.rstrip(":").strip().lower() in LABEL_SET:
                record.setdefault(key, "")
                i += 1
                continue
            record.setdefault(key, nxt)
            i += 2
            continue
        for label in GLUED:
            if line.startswith(label) and len(line) > len(label):
                record.setdefault(label, line[len(label) :].lstrip(": "))
                break
        i += 1
    return record


def run(start_url: str, output: Path) -> dict:
    started = time.perf_counter()
    scope = start_url.rsplit("/", 1)[0] + "/"
    rows: list[dict[str, str]] = []
    listings = 0
    fetched = 0
    with httpx.Client(timeout=30.0, headers={"User-Agent": "esf-baseline/0.1"}) as client:
        project_urls: list[str] = []
        next_url: str | None = start_url
        seen: set[str] = set()
        while next_url and next_url not in seen:  # listing pages, following "Nästa"
            seen.add(next_url)
            response = client.get(next_url)
            fetched += 1
            listings += 1
            soup = BeautifulSoup(response.text, "html.parser")
            following = None
            for a in soup.find_all("a", href=True):
                url = urljoin(next_url, a["href"])
                if not url.startswith(scope):
                    continue
                if "/projekt/" in urlsplit(url).path and url not in project_urls:
                    project_urls.append(url)
                elif a.get_text(strip=True) == "Nästa":
                    following = url
            next_url = following
        for url in project_urls:
            response = client.get(url)
            fetched += 1
            if response.status_code != 200:
                continue
            soup = BeautifulSoup(response.text, "html.parser")
            record = extract(soup.get_text("\n"))
            record["url"] = url
            title = soup.find("title")
            record["title"] = title.get_text(strip=True) if title else ""
            rows.append(record)
    frame = pd.DataFrame(rows)
    output.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(output / "baseline.parquet", index=False)
    seconds = time.perf_counter() - started
    return {
        "pages_fetched": fetched,
        "listing_pages": listings,
        "project_rows": len(frame),
        "columns": len(frame.columns),
        "seconds_in_process": round(seconds, 3),
        "pages_per_second_in_process": round(fetched / seconds, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start-url", required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.start_url, args.output)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
