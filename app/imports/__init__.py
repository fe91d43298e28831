"""Import of tasks: file readers and the row shapes they accept."""
