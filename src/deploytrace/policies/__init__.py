"""Policy gates: Chainloop-format Rego policies evaluated over deploytrace's evidence.

A pure library (no web framework, no database): `document` parses and checks
policy files, `sandbox` runs Rego in worker processes with time and memory
limits, `inputs` builds what a policy sees, `evaluate` turns results into a
`Decision`. Importing this package does not load the Rego engine; only the
sandbox's workers do.
"""
