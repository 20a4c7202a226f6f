"""Build the static docs site for client teams (`nox -s docs` runs this).

    python tools/build_docs.py [--out site] [--served PATH | --no-served]

Writes into `--out` (default `site/`, not committed):

    index.html                the entry page: links and the contract version
    asyncapi/index.html       the socket events, rendered by the official AsyncAPI HTML
                              template (@asyncapi/generator + @asyncapi/html-template,
                              one self-contained file)
    rest/index.html           the REST API in Swagger UI (swagger-ui-dist from npm, copied
                              next to it; the bundled OpenAPI document is inlined, so the
                              page works offline and from file://)
    rest/openapi.json         openapi.yaml with common.yaml inlined (one document)
    asyncapi.yaml, openapi.yaml, common.yaml   the committed specs, byte for byte
    zizany-events.d.ts        the generated TypeScript declarations

The AsyncAPI page is also written to `--served` (default `service/static/asyncapi.html`,
committed), which the server answers at `/docs/asyncapi`. Both carry the sha256 of the
spec files they were rendered from (`<meta name="zizany:...-sha256">`); a test fails
when the committed page no longer matches the spec.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from service.api.spec import bundle_openapi  # noqa: E402

SPEC = ROOT / "spec"
SPEC_FILES = ("asyncapi.yaml", "openapi.yaml", "common.yaml")
DTS = ROOT / "generated" / "typescript" / "zizany-events.d.ts"
SERVED = ROOT / "service" / "static" / "asyncapi.html"
SWAGGER = ROOT / "node_modules" / "swagger-ui-dist"
SWAGGER_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
MARKER = ".zizany-docs"
# The spec files the AsyncAPI page is rendered from (asyncapi.yaml $refs common.yaml).
RENDERED_FROM = ("asyncapi.yaml", "common.yaml")


def spec_digests(spec_dir: Path = SPEC) -> dict[str, str]:
    """`{"asyncapi.yaml": sha256, "common.yaml": sha256}`: what the AsyncAPI page shows."""
    return {
        name: hashlib.sha256((spec_dir / name).read_bytes()).hexdigest() for name in RENDERED_FROM
    }


def meta_tags(digests: dict[str, str]) -> str:
    """The `<meta>` tags that record which spec bytes a page was rendered from."""
    return "".join(
        f'<meta name="zizany:{name}-sha256" content="{digest}">' for name, digest in digests.items()
    )


def render_asyncapi(spec: Path) -> str:
    """The official HTML template's single-file page for `spec`, with the spec digests."""
    with tempfile.TemporaryDirectory(prefix="zizany-asyncapi-") as tmp:
        done = subprocess.run(
            ["node", str(ROOT / "tools" / "render_asyncapi.mjs"), str(spec), tmp],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"},
        )
        if done.returncode != 0:
            raise RuntimeError(f"the AsyncAPI generator failed:\n{done.stdout}\n{done.stderr}")
        page = (Path(tmp) / "index.html").read_text(encoding="utf-8")
    head = page.find("<head>")
    if head < 0:
        raise RuntimeError("the AsyncAPI page has no <head>")
    at = head + len("<head>")
    return page[:at] + meta_tags(spec_digests(spec.parent)) + page[at:]


def _script_json(data: object) -> str:
    """JSON safe to inline in a <script> element."""
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def rest_page(title: str) -> str:
    """Swagger UI over the inlined, bundled OpenAPI document (assets next to the page)."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} - Swagger UI</title>
<link rel="icon" type="image/png" href="favicon-32x32.png">
<link rel="stylesheet" href="swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="swagger-ui-bundle.js"></script>
<script src="openapi.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  spec: window.ZIZANY_OPENAPI,
  dom_id: "#swagger-ui",
  deepLinking: true,
  withCredentials: true,
  presets: [SwaggerUIBundle.presets.apis],
}});
</script>
</body>
</html>
"""


def index_page(asyncapi: dict[str, object], openapi: dict[str, object]) -> str:
    """The entry page: what is where, and the contract version."""
    a_info = asyncapi["info"]
    o_info = openapi["info"]
    assert isinstance(a_info, dict) and isinstance(o_info, dict)
    version = html.escape(str(a_info["version"]))
    rest_version = html.escape(str(o_info["version"]))
    note = "" if rest_version == version else f" (REST document: {rest_version})"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="zizany:contract-version" content="{version}">
<title>Zizany contract {version}</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; }}
code {{ background: #f3f3f3; padding: 0 .25em; }}
li {{ margin: .3em 0; }}
</style>
</head>
<body>
<h1>Zizany contract <span class="version">{version}</span>{note}</h1>
<p>The REST API and the Socket.IO events of Zizany, on one port and one session cookie
(<code>connect.sid</code>). Both documents carry the contract version; see
<code>spec/CHANGELOG.md</code> for what changed between versions.</p>
<h2>Read</h2>
<ul>
<li><a href="rest/index.html">REST API</a> ({html.escape(str(o_info["title"]))}, Swagger UI)</li>
<li><a href="asyncapi/index.html">Socket.IO events</a> ({html.escape(str(a_info["title"]))},
AsyncAPI)</li>
</ul>
<h2>Download</h2>
<ul>
<li><a href="openapi.yaml">openapi.yaml</a> (OpenAPI 3.1) and
<a href="rest/openapi.json">openapi.json</a> (bundled into one document)</li>
<li><a href="asyncapi.yaml">asyncapi.yaml</a> (AsyncAPI 3.0)</li>
<li><a href="common.yaml">common.yaml</a> (the JSON Schemas both documents share)</li>
<li><a href="zizany-events.d.ts">zizany-events.d.ts</a>: TypeScript declarations for
<code>socket.io-client</code> (<code>ServerToClientEvents</code>,
<code>ClientToServerEvents</code> and every payload type)</li>
</ul>
<h2>Connect</h2>
<p>Log in with <code>POST /api/auth/login</code>; the answer sets the <code>connect.sid</code>
cookie. Send that cookie with every REST request and with the Socket.IO handshake
(path <code>/socket.io</code>). Browsers on another origin need that origin in the
server's allowed origins and <code>credentials: "include"</code> /
<code>withCredentials: true</code>.</p>
</body>
</html>
"""


def prepare(out: Path) -> None:
    """An empty output folder: a fresh one, or one this script made before."""
    if out.exists():
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise SystemExit(f"{out} exists and was not made by build_docs.py; not touching it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("built by tools/build_docs.py\n", encoding="utf-8")


def build(out: Path, served: Path | None) -> dict[str, float]:
    """Build the site into `out` (and the served AsyncAPI page); return seconds per step."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    missing = [name for name in SWAGGER_ASSETS if not (SWAGGER / name).is_file()]
    if missing:
        raise SystemExit(f"swagger-ui-dist is not installed ({missing}): run `npm ci`")
    prepare(out)
    for name in SPEC_FILES:
        shutil.copyfile(SPEC / name, out / name)
    shutil.copyfile(DTS, out / DTS.name)
    asyncapi = yaml.safe_load((SPEC / "asyncapi.yaml").read_text(encoding="utf-8"))
    openapi = yaml.safe_load((SPEC / "openapi.yaml").read_text(encoding="utf-8"))

    rest = out / "rest"
    rest.mkdir()
    for name in SWAGGER_ASSETS:
        shutil.copyfile(SWAGGER / name, rest / name)
    bundled = bundle_openapi(SPEC)
    (rest / "openapi.json").write_text(json.dumps(bundled, indent=1) + "\n", encoding="utf-8")
    (rest / "openapi.js").write_text(
        f"window.ZIZANY_OPENAPI = {_script_json(bundled)};\n", encoding="utf-8"
    )
    (rest / "index.html").write_text(rest_page(str(openapi["info"]["title"])), encoding="utf-8")
    timings["rest"] = time.monotonic() - started

    step = time.monotonic()
    page = render_asyncapi(SPEC / "asyncapi.yaml")
    (out / "asyncapi").mkdir()
    (out / "asyncapi" / "index.html").write_text(page, encoding="utf-8")
    if served is not None:
        served.parent.mkdir(parents=True, exist_ok=True)
        served.write_text(page, encoding="utf-8")
    timings["asyncapi"] = time.monotonic() - step

    (out / "index.html").write_text(index_page(asyncapi, openapi), encoding="utf-8")
    timings["total"] = time.monotonic() - started
    return timings


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="default: site/")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--served",
        type=Path,
        default=SERVED,
        help="where the page /docs/asyncapi serves goes (default: service/static/asyncapi.html)",
    )
    where.add_argument("--no-served", action="store_true", help="leave the served page alone")
    args = parser.parse_args(argv)
    served = None if args.no_served else args.served.resolve()
    timings = build(args.out.resolve(), served)
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    print(f"docs site in {args.out} ({steps})")
    if served is not None:
        print(f"served AsyncAPI page: {served}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
