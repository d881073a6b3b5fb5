"""The voices of the simulated account (``GET /v1/voices``): Bland's curated names, by id or name."""

from __future__ import annotations

from typing import Any

# (id, name, description, tags): the names Bland's docs use in examples (bland_api.md section 2).
VOICES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("2f9fdbc7-4bf2-4792-8a18-21ce3c93978f", "maya", "Young American female, warm and friendly", ("english", "female")),
    ("13843c96-ab9e-4938-baf3-ad53fcee541d", "josh", "Young American male, energetic", ("english", "male")),
    ("37b3f1c8-a01e-4d70-b251-294733f08371", "florian", "German male, calm", ("german", "male")),
    ("90295ec4-f0fe-4783-ab33-8b997ddc3ae4", "derek", "American male, confident and clear", ("english", "male")),
    ("bbeabae6-ec8d-444f-92ad-c8e620d3de8d", "june", "American female, soft", ("english", "female")),
    ("a3d43393-dacb-43d3-91d7-b4cb913a5908", "nat", "British female, bright", ("english", "female")),
    ("7e2f6f8e-5c4a-4b0c-9d7e-6a2b8c1f4d3e", "paige", "American female, professional", ("english", "female")),
    ("1c1ca816-f457-4dde-a12a-eb9ef6d2e9d1", "karen", "American female, mature", ("english", "female")),
    ("8f4e4c1a-2b7d-4e59-a6c3-5d9b1e0f7a2c", "matthew", "American male, deep", ("english", "male")),
    ("4b6a9d2e-7c3f-4e81-b5a0-2f8d6c9e1b37", "river", "Neutral American voice, relaxed", ("english", "neutral")),
)


def voice_list() -> dict[str, Any]:
    """``GET /v1/voices``: ``{"voices": [{id, name, description, public, tags}]}``."""
    return {"voices": [{"id": vid, "name": name, "description": description, "public": True, "tags": list(tags)}
                       for vid, name, description, tags in VOICES]}


def is_known_voice(value: str) -> bool:
    """A voice is named by its name (any case) or its id."""
    wanted = value.strip().lower()
    return any(wanted in (vid, name) for vid, name, _, _ in VOICES)
