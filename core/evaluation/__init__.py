"""Retrieval metrics (tie-averaged), chance levels, code maps and seed groups."""
