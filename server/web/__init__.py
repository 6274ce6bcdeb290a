"""The web UI for guards, property companies and community offices (docs/WEB.md).

Plain files served by the server itself: no CDN, no build step, nothing fetched from the internet
(compounds often have none). The page only calls the REST API with the user's token; what each
role may see and do is enforced there, the page merely hides what the API would refuse.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
# the page's own scripts only; the API's error bodies are JSON, never rendered as markup
CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def mount_ui(app: FastAPI) -> None:
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.get("/ui/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=headers)

    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
