"""The running parts of blankett: the command line and, around it, the pipeline."""
