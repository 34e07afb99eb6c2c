"""Admin web UI (separate FastAPI app, an OIDC client of idp). Built in the admin issue."""
