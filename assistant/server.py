"""One server: the staff workspace, the public widget and the HTTP API.

::

    /            links to both pages
    /public/     citizen widget (Gradio), public documents only   — embeddable in an <iframe>
    /login       staff sign-in (sets an HttpOnly session cookie)   /logout ends it
    /staff/      staff workspace (Gradio); without a session: redirect to /login
    /api/...     HTTP API (api.py); schema at /api/openapi.json, browsable at /api/docs

``create_app`` loads the model and opens the store once (``Services.open``);
``serve`` runs it under uvicorn. Gradio's own checks (``auth_dependency``) and
a middleware both guard ``/staff``: a request without a valid session never
reaches a staff handler, and each handler checks the session again.
"""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path

import gradio as gr
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse

from assistant.api import install_error_handlers, router
from assistant.auth import LoginError
from assistant.services import SESSION_COOKIE, Services
from assistant.settings import Settings
from assistant.ui.i18n import pick_language, t
from assistant.ui.public import build_public
from assistant.ui.common import CSS
from assistant.ui.staff import build_staff

log = logging.getLogger("assistant.server")

_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1f2328}}
label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}}
button{{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem}}.error{{color:#b42318;margin-top:1rem}}
nav a{{margin-right:1rem}}</style></head><body>{body}</body></html>"""


def _login_page(lang: str, error: str = "", next_url: str = "/staff/") -> str:
    other = "en" if lang == "vi" else "vi"
    body = (
        f'<nav><a href="/login?lang={other}">{"English" if other == "en" else "Tiếng Việt"}</a>'
        f'<a href="/public/">{html.escape(t("login_public", lang))}</a></nav>'
        f'<h1>{html.escape(t("login_title", lang))}</h1>'
        f'<form method="post" action="/login"><input type="hidden" name="next" value="{html.escape(next_url)}">'
        f'<input type="hidden" name="lang" value="{lang}">'
        f'<label for="name">{html.escape(t("login_user", lang))}</label>'
        f'<input id="name" name="name" autocomplete="username" required autofocus>'
        f'<label for="password">{html.escape(t("login_password", lang))}</label>'
        f'<input id="password" name="password" type="password" autocomplete="current-password" required>'
        f'<button id="login" type="submit">{html.escape(t("login_button", lang))}</button></form>'
        + (f'<p class="error" id="login-error">{html.escape(error)}</p>' if error else "")
    )
    return _PAGE.format(lang=lang, title=html.escape(t("login_title", lang)), body=body)


def _safe_next(value: str | None) -> str:
    """Only redirect inside this site after login."""
    return value if value and value.startswith("/") and not value.startswith("//") else "/staff/"


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """The whole web application; the model is loaded here, once."""
    services = services or Services.open(settings)
    app = FastAPI(title="Policy assistant API", version="1",
                  description="Grounded, cited answers from government documents (Vietnamese and English).",
                  openapi_url="/api/openapi.json", docs_url="/api/docs", redoc_url=None)
    app.state.services = services
    install_error_handlers(app)
    app.include_router(router)

    @app.middleware("http")
    async def staff_only(request: Request, call_next):
        path = request.url.path
        if path == "/staff" or path.startswith("/staff/"):
            if not services.staff_user(request):
                if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                    return RedirectResponse(f"/login?next={path}", status_code=303)
                return JSONResponse({"error": "staff sign-in required", "fields": []}, status_code=401)
        response = await call_next(request)
        if path.startswith("/public") or path == "/":
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request):
        lang = pick_language(request.headers.get("accept-language"), request.query_params.get("lang"))
        body = (f'<h1>{html.escape(t("public_title", lang))}</h1>'
                f'<p><a id="to-public" href="/public/">{html.escape(t("public_title", lang))}</a></p>'
                f'<p><a id="to-staff" href="/staff/">{html.escape(t("staff_title", lang))}</a></p>'
                f'<p><a href="/api/docs">HTTP API</a></p>')
        return _PAGE.format(lang=lang, title=html.escape(t("public_title", lang)), body=body)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request):
        lang = pick_language(request.headers.get("accept-language"), request.query_params.get("lang"))
        return _login_page(lang, next_url=_safe_next(request.query_params.get("next")))

    @app.post("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_submit(request: Request, name: str = Form(""), password: str = Form(""), next: str = Form("/staff/"),
                     lang: str = Form("vi")):
        lang = lang if lang in ("vi", "en") else "vi"
        try:
            token = services.accounts.login(name.strip(), password, client=services.client_key(request))
        except LoginError as exc:
            return HTMLResponse(_login_page(lang, str(exc), _safe_next(next)),
                                status_code=429 if exc.throttled else 401)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(SESSION_COOKIE, token, max_age=int(settings.session_hours * 3600), httponly=True,
                            samesite="lax", secure=request.url.scheme == "https", path="/")
        return response

    @app.get("/export/{token}", include_in_schema=False)
    def export(token: str, request: Request):
        """A staff answer with its citations as a Markdown download (only for the user who asked)."""
        markdown = services.export_for(token, services.staff_user(request))
        if markdown is None:
            return JSONResponse({"error": "no such export for this session; ask again in the workspace",
                                 "fields": []}, status_code=404)
        return PlainTextResponse(markdown, media_type="text/markdown; charset=utf-8",
                                 headers={"Content-Disposition": 'attachment; filename="answer.md"'})

    @app.get("/logout", include_in_schema=False)
    def logout(request: Request):
        services.accounts.logout(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    theme = gr.themes.Default()
    # Gradio's file cache is shared by both mounts: staff uploads live there. The public page
    # serves no file from it, so it may not serve any.
    from gradio.utils import get_upload_folder

    gr.mount_gradio_app(app, build_public(services), path="/public", ssr_mode=False, show_error=False,
                        footer_links=[], theme=theme, css=CSS, blocked_paths=[get_upload_folder()])
    gr.mount_gradio_app(app, build_staff(services), path="/staff", ssr_mode=False, show_error=False,
                        footer_links=[], theme=theme, css=CSS,
                        auth_dependency=lambda request: services.staff_user(request),
                        max_file_size=f"{int(settings.max_file_mb)}mb")
    return app


def first_admin(services: Services) -> str | None:
    """With no staff account yet, create ``admin`` with a random password, shown once and kept 0600."""
    password = services.accounts.ensure_initial_admin()
    if password is None:
        return None
    path = Path(services.settings.data_dir) / "initial-admin-password.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    return password


def serve(settings: Settings, ingest: list[Path] | tuple = ()) -> None:
    """``assistant serve``: load once, bring ``ingest`` folders into the store, then answer until stopped."""
    import uvicorn

    services = Services.open(settings)
    if ingest:
        report = services.ingest(ingest, prune=True)
        print(f"ingest: added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
              f"removed {report.removed}, failed {len(report.failed)} in {report.seconds:.1f} s")
        for failure in report.failed:
            print(f"  {failure.path}: {failure.error}")
    app = create_app(settings, services)
    password = first_admin(services)
    counts = services.assistant.store.counts()
    url = f"http://{settings.host}:{settings.port}"
    print(f"Policy assistant on {url}  ({counts['documents']} documents, {counts['chunks']} chunks)")
    print(f"  citizens: {url}/public/   staff: {url}/staff/   API: {url}/api/docs")
    if password:
        print(f"  first staff account: admin / {password}  (also in {settings.data_dir}/initial-admin-password.txt;"
              f" change it with: assistant users passwd admin)")
    if counts["chunks"] == 0:
        print("  the store is empty: run `assistant ingest docs/` or upload documents in the staff workspace")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
