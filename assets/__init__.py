"""One module per stage: its assets and their checks (wired together in ``pipelines/definitions.py``)."""

import warnings

import dagster as dg

# Partitioned asset checks and source-code references are Dagster preview/beta features that warn at every
# import, i.e. on every command. Said once here, before any asset module is imported: the checks and the
# catalog rely on them, and a Dagster upgrade is tested before it lands.
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)
