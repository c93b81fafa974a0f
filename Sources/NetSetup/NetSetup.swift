// NetSetup: see docs/architecture.md.
