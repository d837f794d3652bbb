"""Built-in attacks, one module per family; each registers its attacks when imported."""
