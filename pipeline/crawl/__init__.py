"""The crawler (crawler.py) and its policies, one module each: robots, retry, scope, gate, revisit, http."""
