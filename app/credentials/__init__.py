"""API keys bound to the hosts they may be sent to (issue 18, finding 6)."""
