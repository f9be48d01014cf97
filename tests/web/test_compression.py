"""Compressed answers from the app itself (Flask-Compress) when no nginx is in front."""

from __future__ import annotations

import gzip
from typing import Any

import brotli

from finder import create_app
from tests.plugins.web import WebSite

PAGE = "/search?near=LS2+9AA&q=back+pain"


def _app(web_site: WebSite, **config: Any) -> Any:
    base = {key: web_site.app.config[key] for key in ("INSTANCE_PATH", "DATABASE_URL", "GAZETTEER_PATH", "INDEX_DIR")}
    return create_app({**base, "TESTING": True, "RATELIMIT_ENABLED": False, "SECRET_KEY": "test", **config})


def test_pages_and_json_are_compressed_for_clients_that_accept_it(web_client: Any) -> None:
    plain = web_client.get(PAGE)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    squeezed = web_client.get(PAGE, headers={"Accept-Encoding": "gzip"})
    assert squeezed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(squeezed.data) == plain.data and len(squeezed.data) < len(plain.data) / 3
    assert int(squeezed.headers["Content-Length"]) == len(squeezed.data)
    best = web_client.get(PAGE, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert best.headers["Content-Encoding"] == "br" and brotli.decompress(best.data) == plain.data
    api = web_client.get("/api/v1/search?near=LS2+9AA&q=back+pain", headers={"Accept-Encoding": "gzip"})
    assert api.headers["Content-Encoding"] == "gzip" and b'"total":' in gzip.decompress(api.data)
    refused = web_client.get(PAGE, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers and refused.data == plain.data


def test_each_encoding_has_its_own_etag_and_revalidates(web_client: Any) -> None:
    plain = web_client.get(PAGE)
    squeezed = web_client.get(PAGE, headers={"Accept-Encoding": "gzip"})
    assert squeezed.headers["ETag"] == plain.headers["ETag"][:-1] + ':gzip"'
    again = web_client.get(PAGE, headers={"Accept-Encoding": "gzip", "If-None-Match": squeezed.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert web_client.get(PAGE, headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304


def test_small_answers_and_errors_stay_plain(web_client: Any) -> None:
    tiny = web_client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert tiny.status_code == 200 and "Content-Encoding" not in tiny.headers
    missing = web_client.get("/practitioners/999999", headers={"Accept-Encoding": "gzip"})
    assert missing.status_code == 404 and "Content-Encoding" not in missing.headers


def test_switched_off_when_nginx_compresses(web_site: WebSite) -> None:
    client = _app(web_site, COMPRESS_REGISTER=False).test_client()
    response = client.get(PAGE, headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200 and "Content-Encoding" not in response.headers


def test_static_files_are_sent_whole_and_closed(web_client: Any) -> None:
    import gc
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        response = web_client.get("/static/site.css", headers={"Accept-Encoding": "gzip, br"})
        assert response.status_code == 200 and "Content-Encoding" not in response.headers
        body = response.get_data()
        response.close()
        gc.collect()
    assert b"{" in body
