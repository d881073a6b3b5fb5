"""The Google Sheets call log's settings (sheets_sync; README "Google Sheets call log"), read by
``config.settings.base``; the Celery queue and beat entries that use them stay there."""

from __future__ import annotations

from config import env

# A service-account JSON key (content or file path), a JSON list of keys, or paths separated by ","
# (the pool: each account has its own per-user quota). Empty: sync is off and rows wait in the outbox.
SHEETS_CREDENTIALS = env.str_("SHEETS_CREDENTIALS", "")
SHEETS_API_ENDPOINT = env.str_("SHEETS_API_ENDPOINT", "https://sheets.googleapis.com/")
SHEETS_OPERATIONS_SPREADSHEET_ID = env.str_("SHEETS_OPERATIONS_SPREADSHEET_ID", "")
SHEETS_TAB_PREFIX = env.str_("SHEETS_TAB_PREFIX", "Calls")  # one tab a month: "Calls 2026-12"
# Google's quotas: requests per minute per user (a service account is one user) and per project.
SHEETS_WRITES_PER_MINUTE_PER_USER = env.int_("SHEETS_WRITES_PER_MINUTE_PER_USER", 60)
SHEETS_WRITES_PER_MINUTE_PER_PROJECT = env.int_("SHEETS_WRITES_PER_MINUTE_PER_PROJECT", 300)
SHEETS_READS_PER_MINUTE_PER_USER = env.int_("SHEETS_READS_PER_MINUTE_PER_USER", 60)
SHEETS_READS_PER_MINUTE_PER_PROJECT = env.int_("SHEETS_READS_PER_MINUTE_PER_PROJECT", 300)
# A token comes back 60 s plus this margin after it was spent (the time from taking it to Google).
SHEETS_QUOTA_MARGIN_SECONDS = env.seconds_("SHEETS_QUOTA_MARGIN_SECONDS", 1.0)
# Tokens of each per-minute bucket that only critical rows (a call ended, failed or was charged) may take:
# progress rows never spend the last SHEETS_CRITICAL_RESERVE requests of a window.
SHEETS_CRITICAL_RESERVE = env.count_("SHEETS_CRITICAL_RESERVE", 3)
# Pacing: an account sends at most this many requests back to back, then one per window/limit seconds
# (1 a second at 60 a minute), so the quota is spent evenly; 0 turns pacing off.
SHEETS_PACE_BURST = env.count_("SHEETS_PACE_BURST", 5)
SHEETS_BREAKER_FAILURES = env.int_("SHEETS_BREAKER_FAILURES", 5)
SHEETS_BREAKER_WINDOW_SECONDS = env.int_("SHEETS_BREAKER_WINDOW_SECONDS", 60)
SHEETS_BREAKER_COOLDOWN_SECONDS = env.int_("SHEETS_BREAKER_COOLDOWN_SECONDS", 30)
SHEETS_MAX_RETRIES = env.count_("SHEETS_MAX_RETRIES", 5)
SHEETS_MAX_BACKOFF_SECONDS = env.int_("SHEETS_MAX_BACKOFF_SECONDS", 64)
SHEETS_HTTP_TIMEOUT_SECONDS = env.int_("SHEETS_HTTP_TIMEOUT_SECONDS", 30)
SHEETS_USAGE_ALERT_RATIO = env.fraction_("SHEETS_USAGE_ALERT_RATIO", 0.8)
SHEETS_BACKLOG_ALERT_SECONDS = env.int_("SHEETS_BACKLOG_ALERT_SECONDS", 300)
SHEETS_QUEUE = env.str_("SHEETS_QUEUE", "sheets")
SHEETS_MAX_BATCH_BYTES = env.int_("SHEETS_MAX_BATCH_BYTES", 2_000_000)
SHEETS_CELL_WARNING_RATIO = env.fraction_("SHEETS_CELL_WARNING_RATIO", 0.9)
# The drain (sheets_sync/drain.py): beat runs it every SHEETS_DRAIN_SECONDS, each run for at most
# SHEETS_DRAIN_MAX_SECONDS; a critical change (ended, failed, charged) kicks one at once after commit.
SHEETS_DRAIN_SECONDS = env.int_("SHEETS_DRAIN_SECONDS", 5)
SHEETS_DRAIN_MAX_SECONDS = env.int_("SHEETS_DRAIN_MAX_SECONDS", 50)
SHEETS_LEASE_SECONDS = env.int_("SHEETS_LEASE_SECONDS", 300)  # one drainer per spreadsheet; a dead one's lease ends
SHEETS_RECHECK_SECONDS = env.int_("SHEETS_RECHECK_SECONDS", 300)  # a spreadsheet Sheets refused is tried again then
# The quota, breaker and backlog gauges (sheets_sync.monitor) for the CloudWatch alarms, sent every this often.
SHEETS_METRICS_SECONDS = env.int_("SHEETS_METRICS_SECONDS", 60)
