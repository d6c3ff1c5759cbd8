"""The evaluation harness: score the assistant (and a naive baseline) on benchmark sets.

    assistant eval DATASET_DIR [--compare] ...      or      python -m eval DATASET_DIR ...

One module per job: ``datasets`` (reading sets), ``metrics`` (pure metric
definitions), ``scoring`` (per-query scores and summaries), ``runner`` (cached
stores, configurations, running), ``baseline`` (the naive LangChain pipeline),
``report`` (Markdown, JSON, PNG, HTML), ``cli`` (the command line).
"""

import assistant  # noqa: F401  (offline process set-up before any heavy import)
