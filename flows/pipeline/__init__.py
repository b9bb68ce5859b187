"""The pipeline's steps as plain functions: what is ready in the inbox, reading a file in a worker,
taking it, checking stored applications again."""
