"""Data of blankett: the form specification, routing, the records passed between stages, and the
validation rules. Nothing here reads a file except the loaders of the shipped TOML configuration."""
