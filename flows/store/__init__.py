"""The database: its tables, what a read records, and the questions the commands ask of it."""
