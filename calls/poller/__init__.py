"""The poller: brings every call in flight to its final state when webhooks are late or lost.

``poll_calls`` runs one pass; ``manage.py poll_calls``, the ``calls.poll_calls`` Celery task and
``deploy/lambda/handler.py`` are thin interfaces over it. ``poller_health`` says whether it keeps up.
"""

from calls.poller.health import PollerHealth, poller_health
from calls.poller.options import PollOptions, PollSummary
from calls.poller.runner import default_provider, poll_calls, poll_calls_repeatedly

__all__ = ["PollOptions", "PollSummary", "PollerHealth", "default_provider", "poll_calls", "poll_calls_repeatedly",
           "poller_health"]
