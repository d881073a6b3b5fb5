"""The audio of a recorded call: a real WAV file as long as the call talked.

Telephone quality, as Bland's recordings are: 8 kHz, mono, 8-bit (8 KB a second, so a 45 s call is
360 KB and the longest scenario, 10 minutes, under 5 MB). Each utterance is a tone for as long as it is
spoken, a different pitch per speaker; the gaps between turns are silence.
"""

from __future__ import annotations

import io
import math
import wave
from collections.abc import Sequence
from functools import cache

from calls.providers.simulator.script import Line

RATE = 8000
SILENCE = 0x80  # 8-bit WAV samples are unsigned: 128 is zero
PERIOD_SAMPLES = {"user": 20, "assistant": 16}  # 400 Hz and 500 Hz: whole periods at 8 kHz


@cache
def _period(samples: int) -> bytes:
    return bytes(SILENCE + round(80 * math.sin(2 * math.pi * n / samples)) for n in range(samples))


def render_wav(script: Sequence[Line], seconds: float) -> bytes:
    """``seconds`` of audio (the call's connected time), with a tone wherever a line is being said."""
    total = max(0, round(seconds * RATE))
    audio = bytearray([SILENCE]) * total
    for line in script:
        if line.role not in PERIOD_SAMPLES:
            continue  # "Ended call" and the like are not spoken
        begin, end = round(line.start * RATE), min(total, round(line.end * RATE))
        if end <= begin:
            continue
        period = _period(PERIOD_SAMPLES[line.role])
        audio[begin:end] = (period * ((end - begin) // len(period) + 1))[: end - begin]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(RATE)
        out.writeframes(bytes(audio))
    return buffer.getvalue()
