"""Reusable console widgets, each with its DEFAULT_CSS; colours come only from theme variables."""
