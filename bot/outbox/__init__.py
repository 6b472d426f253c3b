"""The one home of delivery: the outbox rows (`queue`), what was posted under each key
(`posted`), the claim/mark protocol over both (`ledger`), and the dispatcher that sends what
is due through the connectors (`dispatcher`)."""
