"""The `deploytrace` command-line interface."""
