"""A blankett home: its folders and settings file, the lock that keeps one run at a time."""
