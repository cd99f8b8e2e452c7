"""A trained run at work: the cached session, exact and approximate search, evaluation, per-query and per-class statistics."""
