"""Links the site hands out (API links, problem types, OpenAPI servers, referral summaries).

One rule: an absolute link is built from the configured ``PUBLIC_URL``
(``FINDER_PUBLIC_URL=https://finder.example.org``), never from the request's
``Host`` header, which anyone can set. Without it, links are root-relative
(``/practitioners/12``), which browsers and HTTP clients resolve against the
address they used.

The request's host is never consulted: the path comes from the URL map bound
to a placeholder server name, so even a request whose Host Flask refused
(``TRUSTED_HOSTS``) gets correct links in its error answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, has_request_context, request

from finder.errors import FinderError

log = logging.getLogger(__name__)


def normalised_public_url(raw: Any) -> str | None:
    """``PUBLIC_URL`` as ``scheme://host[:port][/prefix]`` without a trailing slash, or None when unset.

    Raises FinderError for a value that is not an http(s) URL with a host, so a
    typo stops the app at start instead of producing broken links.
    """
    text = str(raw or "").strip()
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise FinderError(
            f"FINDER_PUBLIC_URL must be the site's address, e.g. https://finder.example.org (got {text!r})"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def public_host(public_url: str | None) -> str | None:
    return urlsplit(public_url).hostname if public_url else None


def _adapter(script_name: str) -> Any:
    """The URL map bound to the public name, once per request (an API search page asks 80 times)."""
    if has_request_context():
        adapter = g.get("finder_site_adapter")
        if adapter is None:
            adapter = g.finder_site_adapter = current_app.url_map.bind(
                "public.invalid", script_name=script_name or "/", url_scheme="http"
            )
        return adapter
    return current_app.url_map.bind("public.invalid", script_name=script_name or "/", url_scheme="http")


def site_url(endpoint: str, *, _anchor: str | None = None, **values: Any) -> str:
    """The link to ``endpoint``: absolute under PUBLIC_URL when configured, else root-relative."""
    app = current_app
    script_name = request.root_path if has_request_context() else ""
    adapter = _adapter(script_name)
    path = adapter.build(endpoint, values, force_external=False)
    if _anchor:
        path = f"{path}#{_anchor}"
    base = app.config.get("PUBLIC_URL")
    if base:
        # The prefix of the public URL replaces whatever root the app is mounted at locally.
        if script_name and path.startswith(script_name):
            path = path[len(script_name):] or "/"
        return f"{base}{path}"
    return path


#: Hosts a request may name when no public URL is set and an absolute link is unavoidable.
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def absolute_site_url(endpoint: str, **values: Any) -> str:
    """An absolute link where a format demands one (ORUK's ``openapi_url`` is a "uri").

    Under PUBLIC_URL it is that; otherwise the request's own host is used only when it is
    one the app vouches for: a loopback name (the demo) or a configured TRUSTED_HOSTS entry
    (Flask has already refused every other Host). Anything else gets the relative link:
    never an attacker's Host in a body.
    """
    link = site_url(endpoint, **values)
    if current_app.config.get("PUBLIC_URL") or not has_request_context():
        return link
    host = request.host.rsplit(":", 1)[0] if not request.host.startswith("[") else request.host.split("]")[0] + "]"
    trusted = current_app.config.get("TRUSTED_HOSTS") or ()
    if host in _LOCAL_HOSTS or host in trusted:
        return f"{request.scheme}://{request.host}{link}"
    log.warning("FINDER_PUBLIC_URL is not set: %s is given as a relative link", endpoint)
    return link


def init_app(app: Flask) -> None:
    """Normalise PUBLIC_URL, default TRUSTED_HOSTS to its host, and offer ``site_url`` to templates."""
    app.config["PUBLIC_URL"] = normalised_public_url(app.config.get("PUBLIC_URL"))
    trusted = app.config.get("TRUSTED_HOSTS")
    if isinstance(trusted, str):  # FINDER_TRUSTED_HOSTS=finder.example.org,www.finder.example.org
        trusted = [name.strip() for name in trusted.split(",") if name.strip()]
    host = public_host(app.config["PUBLIC_URL"])
    if not trusted and host:
        trusted = [host]
    app.config["TRUSTED_HOSTS"] = trusted or None
    app.add_template_global(site_url, "site_url")


#: A number no real id has, put where the id goes to find the id's place in a built link.
_ID_MARKER = 987654321


def id_url_maker(
    endpoint: str, id_arg: str, *, build: Callable[..., str] = site_url, **values: Any
) -> Callable[[int], str]:
    """``build(endpoint, **{id_arg: n}, **values)`` for many ids ``n``: built once, then filled in.

    The links of a results page or an API search differ only in the id (20 listings, up to four
    links each), and werkzeug's URL building cost about 18 µs a link. A rule that does not put the
    id in a path segment of its own falls back to building every link.
    """
    template = build(endpoint, **{id_arg: _ID_MARKER, **values})
    head, found, tail = template.partition(f"/{_ID_MARKER}")
    if not found or str(_ID_MARKER) in tail:
        return lambda n: build(endpoint, **{id_arg: n, **values})
    return lambda n: f"{head}/{int(n)}{tail}"
