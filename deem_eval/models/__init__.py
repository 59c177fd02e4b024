"""Model adapters. The registry imports an adapter's module only when its name is used."""
