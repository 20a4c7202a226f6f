"""Persistence: tables, the async engine, migrations and one query module per table.

Query functions flush but never commit: the caller owns the transaction (see
`engine.session_scope`), so several calls can form one unit of work and an
exception rolls all of them back.
"""
