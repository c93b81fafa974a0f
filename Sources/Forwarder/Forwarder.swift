// Forwarder: see docs/architecture.md.
