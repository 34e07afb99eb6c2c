"""The endpoints resource servers and relying parties call per request are matched
before FastAPI's included routers (issue 22: behind them, matching /userinfo scanned
~100 routes)."""

from idp.main import create_app


def test_userinfo_token_and_introspection_are_matched_first(monkeypatch, tmp_path):
    monkeypatch.setenv("IDP_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    app = create_app(start_workers=False)
    first = [getattr(r, "path", None) for r in app.router.routes[:8]]
    for path in ("/token", "/introspect", "/userinfo"):
        assert path in first, first
    userinfo = [r for r in app.router.routes if getattr(r, "path", None) == "/userinfo"]
    assert {m for r in userinfo for m in r.methods} >= {"GET", "POST"}
