"""Live conversations of chat projects: the service (app/chat/service.py) and the worker's job that asks
the models (app/chat/generate.py)."""
