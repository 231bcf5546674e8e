"""The crawler (crawler.py) and its policies, one module each: robots, retry, gate, revisit, http, frontier
(canonical addresses and the scope: pipeline/urls.py, pipeline/sources.py)."""
