"""Pulls from the platforms' APIs: HTTP in, landing files out.

Each platform module turns API responses into the landing shapes of docs/landing.md and writes them where a delivered
export would lie, so ingestion, contracts and staging stay the single way in. Everything here is an edge (network,
files, clock); the mapping from one response to landing records is kept in small pure functions beside it.
"""
