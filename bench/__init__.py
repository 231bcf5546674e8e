"""Benchmark of the esf-pipeline: a synthetic ESF project bank served on loopback, the real CLI run
against it, and a naive baseline for comparison. See bench/README.md."""
