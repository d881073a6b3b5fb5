from django.apps import AppConfig


class SheetsSyncConfig(AppConfig):
    name = "sheets_sync"
    verbose_name = "Google Sheets call log"

    def ready(self) -> None:
        # The outbox writers subscribe to the calls' and users' in-transaction events; the checks register.
        from sheets_sync import checks, receivers, tasks  # noqa: F401
