"""The domain layer: rules, transactions and authorization. No HTTP, no CLI."""
