"""The clinical core: pure functions from a ``PatientSnapshot`` and the knowledge base to
assessments, candidate suggestions and safety decisions. No I/O, no FastAPI, no httpx."""
