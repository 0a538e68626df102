"""Typing for code that runs queries on either a pool or a single connection."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg

# A pool runs each query on any free connection; a connection keeps a transaction.
Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool
