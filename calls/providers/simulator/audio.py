"""The audio of a recorded call: a real WAV file."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import Sequence

from calls.providers.simulator.script import Line

TONES = {"user": 440.0, "assistant": 660.0, "agent-action": 880.0}


def render_wav(script: Sequence[Line], *, rate: int = 8000, max_tones: int = 10) -> bytes:
    """A small real WAV (mono, 16-bit): one 0.35 s tone per utterance, a different pitch per speaker."""
    samples: list[int] = []
    for line in list(script)[:max_tones] or [Line("agent-action", "", 0, 0)]:
        pitch = TONES.get(line.role, 550.0)
        samples += [int(9000 * math.sin(2 * math.pi * pitch * n / rate)) for n in range(int(rate * 0.35))]
        samples += [0] * int(rate * 0.05)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buffer.getvalue()

