"""Use cases, one module each; platform-neutral: they see Commands and return Messages."""
