"""Threaded comments on tasks and annotations, @mentions, and the inbox they fill."""
