"""LLM pre-labeling (DESIGN §4.2): an OpenAI-compatible endpoint writes suggestions (generate, label, judge,
draft) as a background job, and reviewers turn them into annotations that record where they came from."""
