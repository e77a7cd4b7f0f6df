"""deploytrace: what is running where, and what evidence stands behind it."""

__version__ = "0.1.0"
