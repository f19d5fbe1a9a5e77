"""Development tools, not part of the installed package: notebook building and execution, architecture
diagrams, and the queue that trains the model zoo."""
