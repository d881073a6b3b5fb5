"""The simulated account's voices: ``GET /v1/voices`` (Bland's curated names, bland_api.md section 2)."""

from __future__ import annotations

from typing import Any

# (voice_id, name, description, tags): the names Bland's docs use across versions.
VOICES: tuple[tuple[int, str, str, tuple[str, ...]], ...] = (
    (0, "maya", "Young American female, warm and upbeat.", ("english", "female", "american")),
    (1, "josh", "American male, calm and clear.", ("english", "male", "american")),
    (2, "florian", "German male, speaks English and German.", ("german", "male")),
    (3, "derek", "American male, deep and steady.", ("english", "male", "american")),
    (4, "june", "American female, friendly.", ("english", "female", "american")),
    (5, "nat", "Australian female.", ("english", "female", "australian")),
    (6, "paige", "American female, soft-spoken.", ("english", "female", "american")),
    (7, "karen", "British female, professional.", ("english", "female", "british")),
    (8, "matthew", "American male, conversational.", ("english", "male", "american")),
    (9, "river", "Neutral, even-toned.", ("english", "neutral")),
    (10, "mason", "American male, energetic.", ("english", "male", "american")),
)


def voice_list() -> dict[str, Any]:
    return {
        "voices": [
            {"voice_id": voice_id, "name": name, "description": description, "tags": list(tags), "is_custom": False,
             "reduce_latency": True}
            for voice_id, name, description, tags in VOICES
        ]
    }
