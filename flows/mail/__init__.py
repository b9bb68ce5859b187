"""Reports and summaries for the consultants: built from the store, rendered, delivered once."""
