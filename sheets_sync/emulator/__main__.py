"""``python -m sheets_sync.emulator``: serve the Sheets emulator on 127.0.0.1:8766."""

from sheets_sync.emulator.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
