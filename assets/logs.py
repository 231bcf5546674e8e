"""What a run has to tell its operator: in the Dagster run log, and on the command line's stderr (the
CLI shows Dagster's own log only for failures)."""

from __future__ import annotations

import logging

import dagster as dg

_log = logging.getLogger("esf_pipeline")


def warn(context: dg.AssetExecutionContext, message: str) -> None:
    context.log.warning(message)
    _log.warning(message)
