"""Events out (SPEC §11), the pure parts: which events a subscription matches, which
URLs a webhook may have, when a failed delivery is retried, how a webhook secret is
kept, and what goes on the wire (CloudEvents body, Standard Webhooks signature).

Nothing here touches the database; `storage.outbox` and `services.delivery` do.
"""
