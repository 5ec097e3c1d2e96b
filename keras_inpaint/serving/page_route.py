"""The inpainting page at `/` of `keras-inpaint serve`, its files and its settings.

A person opens `http://<host>:<port>/` in a browser, opens or drops a photo,
paints the hole, picks a served model and inpaints; the page calls the same
`POST /v1/models/<name>:predict` endpoint as every other client (signature
`inpaint_bytes`, PNG files as `{"b64": ...}`). Its HTML, CSS and JavaScript
are package data under `keras_inpaint/serving/page/`: no build step, nothing
fetched from elsewhere.

Routes (`mount_page`):

- `GET /`: the page (`page/index.html`);
- `GET /page/<file>`: its script and style sheet (only the files it ships);
- `GET /page/settings.json`: what the page needs from the server: the served
  models (name, version, largest image side of the export) and the request
  limits (`--max-request-bytes`, `--max-pixels`, `--max-batch-size`).

Example:
```python
server, versions = build_server(["exports/quickstart"])
mount_page(server, versions, RequestLimits(), max_request_bytes=64 * 2**20)
```
"""

from pathlib import Path

from fastapi.responses import FileResponse, JSONResponse

from keras_inpaint.export_info import export_max_side

PAGE_DIR = Path(__file__).resolve().parent / "page"
# The page's files other than index.html, with their media types.
ASSETS = {
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}
SETTINGS_PATH = "/page/settings.json"
# The page's own files may change with the package: browsers check before reusing them.
NO_STALE_COPY = {"Cache-Control": "no-cache"}


def page_settings(versions, limits, max_request_bytes):
    """The JSON the page reads at start: served models and request limits.

    Args:
        versions: `{name: (version, folder)}` as `server.build_server` returns it.
        limits: the server's `RequestLimits`.
        max_request_bytes: the server's request body limit.

    Example:
        >>> from keras_inpaint.serving.request_limits import RequestLimits
        >>> page_settings({"fcn": (2, "/nowhere/2")}, RequestLimits(4, 100), 1000)["models"]
        [{'name': 'fcn', 'version': 2, 'max_side': None}]
    """
    models = [
        {"name": name, "version": int(version), "max_side": export_max_side(folder)}
        for name, (version, folder) in sorted(versions.items())
    ]
    return {
        "models": models,
        "max_pixels": limits.max_pixels,
        "max_batch": limits.max_batch,
        "max_request_bytes": int(max_request_bytes),
    }


def _asset_response(name):
    path = PAGE_DIR / name
    if not path.is_file():
        raise FileNotFoundError(
            f"the page file {path} is missing: the package was installed without its page "
            "files (package data keras_inpaint/serving/page/*); reinstall keras-inpaint"
        )
    media_type = ASSETS.get(name, "text/html; charset=utf-8")
    return FileResponse(path, media_type=media_type, headers=NO_STALE_COPY)


def mount_page(server, versions, limits, max_request_bytes):
    """Answer `/`, `/page/<file>` and `SETTINGS_PATH` on `server` (a `litserve.LitServer`).

    LitServe's own `/` (a plain "litserve running") is replaced by the page.
    """
    routes = server.app.router.routes
    routes[:] = [route for route in routes if getattr(route, "path", None) != "/"]
    settings = page_settings(versions, limits, max_request_bytes)

    async def index():
        return _asset_response("index.html")

    async def page_settings_json():
        return JSONResponse(settings, headers=NO_STALE_COPY)

    server.app.add_api_route("/", index, methods=["GET"])
    server.app.add_api_route(SETTINGS_PATH, page_settings_json, methods=["GET"])
    for name in ASSETS:
        server.app.add_api_route(f"/page/{name}", _asset_route(name), methods=["GET"])


def _asset_route(name):
    # A closure, not a default argument: FastAPI would read that as a query parameter.
    async def asset():
        return _asset_response(name)

    return asset
