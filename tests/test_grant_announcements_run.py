"""Press releases in a crawl: their announcements become grant_announcements rows, linked to the project
of the project bank with the same name and owner, in the first run and in a run over an unchanged site."""

from __future__ import annotations

import pandas as pd

from tests.sitekit import Response, RouteSite, listing, project_page, serve
from tests.test_trustworthy_runs import crawl

RELEASE = """<html><head><meta charset="utf-8"><title>Nya projekt</title></head><body>
<p>Pressmeddelande · 14 maj 2024</p><h1>Socialfonden beviljar nya projekt</h1>
<h2>Utlysningen “Vägar till arbete”</h2><p>Utlyst belopp: 40 miljoner kronor</p>
<h3>Beviljade projekt</h3><ul>
<li>Exempelby kommun får 4,2 miljoner kronor till projektet Vägen vidare.</li>
<li>Storå kommun får 12 miljoner kronor till projektet Ny start i Storå.</li>
</ul></body></html>""".encode()


def test_announcements_are_read_and_linked_to_their_projects_in_every_run(tmp_path):
    out = tmp_path / "out"
    site = RouteSite()
    site.routes["/bank/"] = Response(200, listing(["/bank/p/1.html", "/bank/press/1.html"]))
    site.routes["/bank/p/1.html"] = Response(200, project_page("2024/00001", "EXEMPELBY KOMMUN", "Vägen vidare"))
    site.routes["/bank/press/1.html"] = Response(200, RELEASE)
    with serve(site):
        for _ in range(2):  # the second run is a run over an unchanged site
            crawl(site, out)
            grants = pd.read_parquet(out / "grant_announcements.parquet")
            assert grants["project_name"].tolist() == ["Vägen vidare", "Ny start i Storå"]
            assert grants["project_id"].tolist()[0] == "2024/00001" and pd.isna(grants["project_id"].tolist()[1])
            assert (
                float(grants["grant_sek"].iloc[0]) == 4_200_000 and float(grants["grant_precision"].iloc[0]) == 100_000
            )
            projects = pd.read_parquet(out / "projects.parquet")
            assert projects["esf_grant_sek"].tolist() == [projects["esf_grant_sek"].iloc[0]]  # nothing copied in
