"""Platform connectors: one module per platform, discovered through entry points."""
