"""``python -m calls.providers.simulator``: serve the simulator on 127.0.0.1:8765."""

import logging

from calls.providers.simulator import run

if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO)
    run()
