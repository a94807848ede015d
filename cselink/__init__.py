"""cselink: alias-aware record linkage across agency datasets, on DuckDB."""

__version__ = "0.1.0"
