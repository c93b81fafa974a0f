// ZoneEngine: see docs/architecture.md.
