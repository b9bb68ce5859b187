"""The command line: parsing, the commands, and what is printed. Thin over the other packages."""
