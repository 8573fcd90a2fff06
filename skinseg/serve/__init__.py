"""``skinseg serve``: a model behind HTTP on this machine (FastAPI + uvicorn, the ``serve``
extra). One model, loaded once; predictions one at a time, so that concurrent clients share the
CPU instead of oversubscribing it and every mask is the one ``skinseg predict`` writes."""

from skinseg.serve.app import Limits, ServedModel, create_app

__all__ = ["Limits", "ServedModel", "create_app"]
