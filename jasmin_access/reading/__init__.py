"""Helpers behind :mod:`jasmin_access.open`: stores, subsetting, caching, indexes, info."""
