"""Operator data moves: copy the application's data from another PostgreSQL (a Supabase project) into
the database Django points at, keep it in sync during the transition, and verify both sides match.

``manage.py migrate_from_source`` is the interface; ``services`` holds the steps; the runbook is in
``deploy/README.md`` ("Moving the data from Supabase to RDS").
"""
