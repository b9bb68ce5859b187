"""Prefect: the flows over the pipeline's steps, the server they run against, its settings."""
