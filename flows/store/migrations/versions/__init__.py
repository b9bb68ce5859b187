"""One file a revision of the store's schema, oldest first: 0001 is the schema of the stores made
before there were migrations."""
