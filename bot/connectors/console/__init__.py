"""The console connector: commands from standard input, replies as plain text."""
