"""A minimal Django project serving django-mcp-server 0.5.7 for the load comparison (``bench/mcp_load.py``).

It runs in its own virtualenv (``bench/.venv-djmcp``: django-mcp-server needs ``mcp<2``). One trivial
tool, stateless, no auth, the ``startproject`` apps and middleware, endpoint ``/mcp``.
"""
