"""Call campaigns: one task (or pathway) to up to 1,000 numbers, placed with one Bland v2 batch.

``services`` (place, cancel, link, status), ``selectors`` (the owner's campaigns and their progress),
``validation`` (every row checked before anything is placed), ``shapes`` (what clients see), and the
interfaces: ``mcp_tools``, ``mcp_resources`` (``campaigns://{id}``), ``apis`` (REST) and ``admin``.
Each call of a campaign is an ordinary ``calls.models.Call``: it goes through ``calls.services`` like any.
"""
