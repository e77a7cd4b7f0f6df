"""The HTTP API (FastAPI). Every face of deploytrace goes through it."""
