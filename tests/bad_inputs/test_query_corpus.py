"""Bad-input corpus, query strings and headers: the search page, the home page and the API.

Every case is sent raw (percent-encoding as a client would send it, invalid
UTF-8 included) to ``/search``, ``/`` and ``/api/v1/search``. Each must get a
clear error naming what was wrong (400/404/422), or a safe result (200), and
never a 500 or a traceback; API errors are problem+json that match the API's own
schema; nothing the client sent is reflected unescaped; and the store is
exactly as it was (compared with a snapshot after every case).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text

from finder.db import store_from
from tests.web.schema_check import OpenAPIChecker

KB100 = 100 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    query: str  # raw query string, sent as is
    #: Parameter the API must name in ``invalid_params`` (None: a safe 200, or any clear 4xx).
    param: str | None = None
    #: Allowed API statuses.
    statuses: tuple[int, ...] = (200, 400, 422)
    #: Words the API's problem detail must contain.
    words: str | None = None


def q(value: str) -> str:
    return quote(value, safe="")


CASES: list[Case] = [
    # --- huge ---
    Case("100 kB q", "near=LS6&q=" + "a" * KB100, "q", (400,), "at most 200 are allowed"),
    Case("100 kB near", "near=" + "L" * KB100, "near", (400,), "at most 200 are allowed"),
    Case("100 kB of unknown parameters", "near=LS6&" + "&".join(f"p{i}=x" for i in range(KB100 // 8)), None, (200,)),
    Case("100 kB label with lat lon", "lat=53.82&lon=-1.57&label=" + "b" * KB100, None, (200,)),
    Case("5000 repeated filters", "near=LS6&" + "&".join(["specialism=neurological"] * 5000), None, (200,)),
    Case("5000 different bad filter values", "near=LS6&" + "&".join(f"condition=c{i}" for i in range(5000)), "condition", (400,), "'c0', 'c1', 'c2', 'c3', 'c4' and 4,995 more are not one of"),
    Case("100 kB percent-encoded", "near=LS6&q=" + "%41" * (KB100 // 3), "q", (400,), "at most 200"),
    # --- unicode ---
    Case("emoji", "near=LS6&q=" + q("💪🏽 physio 🧠"), None, (200,)),
    Case("right-to-left text", "near=LS6&q=" + q("العلاج الطبيعي"), None, (200,)),
    Case("right-to-left override", "near=LS6&q=" + q("\u202eevil\u202c"), None, (200,)),
    Case("combining marks", "near=LS6&q=" + q("m" + "\u0301" * 150 + "s"), None, (200,)),
    Case("too many combining marks", "near=LS6&q=" + q("m" + "\u0301" * 300), "q", (400,), "at most 200"),
    Case("NUL in q", "near=LS6&q=ms%00pain", None, (200,)),
    Case("NUL in near", "near=LS6%00", "near", (400,), "control characters"),
    Case("lone surrogate", "near=LS6&q=%ED%A0%80", None, (200,)),
    Case("invalid UTF-8 FF", "near=LS6&q=%FF", None, (200,)),
    Case("invalid UTF-8 in near", "near=%FF%FE", "near", (422,), "could not find"),
    Case("overlong UTF-8", "near=LS6&q=%C0%AE%C0%AE%2F", None, (200,)),
    Case("truncated UTF-8", "near=LS6&q=ms%E2%82", None, (200,)),
    Case("fullwidth letters", "near=LS6&q=" + q("ＭＳ"), None, (200,)),
    Case("fullwidth postcode", "near=" + q("ＬＳ６"), None, (200, 400, 422)),
    Case("zero-width only", "q=" + q("\u200b\u200b"), "q", (400,), "tell us where"),
    Case("zero-width in postcode", "near=" + q("LS\u200b6"), None, (200,)),
    Case("CRLF", "near=LS6&q=ms%0D%0ASet-Cookie:%20x=1", None, (200,)),
    Case("tabs and newlines", "near=LS6&q=%09multiple%0Asclerosis%0B", None, (200,)),
    Case("BOM", "near=%EF%BB%BFLS6", None, (200,)),
    # --- Whoosh query syntax: plain words, never a query language ---
    Case("field wildcard and open bracket", "near=LS6&q=" + q("name:* OR ("), None, (200,)),
    Case("lone star", "q=*", "q", (400,), "tell us where"),
    Case("star near", "near=LS6&q=*", None, (200,)),
    Case("question mark", "q=?", "q", (400,), "tell us where"),
    Case("fuzzy", "near=LS6&q=" + q("ms~2"), None, (200,)),
    Case("lone fuzzy", "q=" + q("~2"), "q", (400,), "tell us where"),
    Case("range", "near=LS6&q=" + q("[a TO z]"), None, (200,)),
    Case("open range", "near=LS6&q=" + q("{a TO}"), None, (200,)),
    Case("unclosed quote", "near=LS6&q=" + q('"unclosed'), None, (200,)),
    Case("quoted proximity boost", "near=LS6&q=" + q('bio:"multiple sclerosis"~5^3'), None, (200,)),
    Case("boolean words only", "q=" + q("AND OR NOT"), "q", (400,), "tell us where"),
    Case("brackets", "near=LS6&q=" + q("(((((( ))))"), None, (200,)),
    Case("backslashes", "near=LS6&q=" + q("\\\\ \\"), None, (200,)),
    Case("prefix star", "near=LS6&q=" + q("neuro*"), None, (200,)),
    # --- SQL fragments: text, never SQL ---
    Case("or 1=1", "near=LS6&q=" + q("' OR 1=1 --"), None, (200,)),
    Case("drop table", "near=LS6&q=" + q("; DROP TABLE practitioners"), None, (200,)),
    Case("union select", "q=" + q("x' UNION SELECT name FROM sqlite_master --"), None, (200,)),
    Case("sql in near", "near=" + q("' OR '1'='1"), "near", (422,), "could not find"),
    Case("sql in a filter", "near=LS6&specialism=" + q("neurological' OR '1'='1"), "specialism", (400,), "is not one of"),
    Case("sql in sort", "near=LS6&sort=" + q("name; DROP TABLE practitioners"), "sort", (400,), "is not one of"),
    Case("sql in page", "near=LS6&page=" + q("1;DELETE FROM practitioners"), "page", (400,), "not a whole number"),
    Case("sql in label", "lat=53.82&lon=-1.57&label=" + q('" OR 1=1'), None, (200,)),
    # --- repeated parameters ---
    Case("two q", "near=LS6&q=ms&q=pain", None, (200,)),
    Case("two near", "near=LS6&near=HG1", None, (200,)),
    Case("good then bad radius", "near=LS6&radius_km=5&radius_km=abc", None, (200,)),
    Case("two pages", "near=LS6&page=1&page=2", None, (200,)),
    Case("true then false", "near=LS6&visits_home=true&visits_home=false", None, (200,)),
    # --- absurd numbers ---
    Case("radius 1e308", "near=LS6&radius_km=1e308", "radius_km", (400,), "at most 200"),
    Case("radius 1e309 (overflows to inf)", "near=LS6&radius_km=1e309", "radius_km", (400,), "not a number"),
    Case("radius nan", "near=LS6&radius_km=nan", "radius_km", (400,), "not a number"),
    Case("radius inf", "near=LS6&radius_km=inf", "radius_km", (400,), "not a number"),
    Case("radius -Infinity", "near=LS6&radius_km=-Infinity", "radius_km", (400,), "not a number"),
    Case("radius -0", "near=LS6&radius_km=-0", "radius_km", (400,), "more than 0"),
    Case("radius 0", "near=LS6&radius_km=0", "radius_km", (400,), "more than 0"),
    Case("radius denormal", "near=LS6&radius_km=1e-320", None, (200,)),
    Case("radius hex", "near=LS6&radius_km=0x10", "radius_km", (400,), "not a number"),
    Case("radius with underscores", "near=LS6&radius_km=1_000", "radius_km", (400,), "at most 200"),
    Case("radius in Arabic-Indic digits", "near=LS6&radius_km=" + q("٣"), "radius_km", (400,), "digits 0-9"),
    Case("page 10**20", f"near=LS6&page={10**20}", "page", (400,), "not a whole number"),
    Case("page 0", "near=LS6&page=0", "page", (400,), "from 1"),
    Case("page -1", "near=LS6&page=-1", "page", (400,), "from 1"),
    Case("page too deep", "near=LS6&page=999999999", "page", (400,), "too deep"),
    Case("page 1.5", "near=LS6&page=1.5", "page", (400,), "not a whole number"),
    Case("per_page a million", "near=LS6&per_page=1000000", "per_page", (400,), "from 1 to 100"),
    Case("lat lon 1e308", "lat=1e308&lon=1e308", "lat", (400,), "outside"),
    Case("lat lon nan", "lat=nan&lon=nan", "lat", (400,), "not a number"),
    Case("lat lon outside the UK", "lat=90&lon=180", None, (422,), "outside the UK"),
    Case("lat lon -0", "lat=-0&lon=-0", None, (422,), "outside the UK"),
    Case("lat without lon", "lat=53.8", "lon", (400,), "together"),
    # --- other junk ---
    Case("bad boolean", "near=LS6&visits_home=maybe", "visits_home", (400,), "not true or false"),
    Case("sort function", "near=LS6&sort=RANDOM()", "sort", (400,), "is not one of"),
    Case("script in near", "near=" + q("<script>alert(1)</script>"), "near", (422,), "could not find"),
    Case("script in q", "near=LS6&q=" + q("<script>alert(1)</script>"), None, (200,)),
    Case("template syntax", "near=LS6&q=" + q("{{7*7}} {% debug %}"), None, (200,)),
    Case("double encoding", "near=LS6&q=%25%32%35", None, (200,)),
    Case("path traversal", "near=LS6&q=..%2F..%2Fetc%2Fpasswd", None, (200,)),
    Case("malformed percent", "near=LS6&q=%&label=%zz&x=%%%", None, (200,)),
    Case("only separators", "&&&&===&&", "q", (400,), "tell us where"),
    Case("postcode with NUL", "near=LS6%202AB%00", "near", (400,), "control characters"),
    Case("upper-case filter code", "near=LS6&condition=MULTIPLE_SCLEROSIS", None, (200, 400)),
    Case("semicolon separators", "q=ms;near=LS6", None, (200,)),
    Case("junk parameter names", "near=LS6&%00=1&[]=2&q[]=3&__proto__=4&constructor=5", None, (200,)),
    Case("empty names and values", "=&=&near=LS6&=x", None, (200,)),
]

#: Unescaped markup that must never come back from a page (the corpus sends these).
RAW_MARKUP = ("<script>alert(1)</script>",)


@pytest.fixture(scope="module")
def checker(web_site: Any) -> OpenAPIChecker:
    return OpenAPIChecker(web_site.client().get("/api/v1/openapi.json").get_json())


def store_snapshot(app: Any) -> list[Any]:
    """Every row of every table that holds listings or their history."""
    store = store_from(app)
    with store.engine.connect() as connection:
        return [
            connection.execute(text(f"select * from {table} order by id")).all()  # noqa: S608 - fixed names
            for table in ("practitioners", "practitioner_locations", "source_records", "ingest_runs")
        ]


@pytest.fixture(scope="module")
def snapshot(web_site: Any) -> list[Any]:
    return store_snapshot(web_site.app)


def no_traceback(body: str) -> None:
    for marker in ("Traceback", "Internal Server Error", 'File "/', "Werkzeug Debugger"):
        assert marker not in body, marker


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 80
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_api_query_corpus(case: Case, web_site: Any, checker: OpenAPIChecker, snapshot: list[Any]) -> None:
    response = web_site.client().get(f"/api/v1/search?{case.query}")
    body_text = response.get_data(as_text=True)
    no_traceback(body_text)
    assert response.status_code in case.statuses, (response.status_code, body_text[:500])
    body = json.loads(body_text)
    if response.status_code == 200:
        assert response.mimetype == "application/json"
        assert not checker.errors("SearchResponse", body)
    else:
        assert response.mimetype == "application/problem+json"
        assert not checker.errors("Problem", body)
        assert body["status"] == response.status_code and body["detail"]
        # A clear message stays readable however big the input was.
        assert len(body["detail"]) < 4000, len(body["detail"])
        if case.param is not None:
            names = [p["name"] for p in body.get("invalid_params", [])]
            assert case.param in names, (names, body["detail"])
        if case.words is not None:
            assert case.words in body["detail"], body["detail"]
    assert store_snapshot(web_site.app) == snapshot


@pytest.mark.parametrize("path", ["/search", "/"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_page_query_corpus(case: Case, path: str, web_site: Any, snapshot: list[Any]) -> None:
    response = web_site.client().get(f"{path}?{case.query}")
    body = response.get_data(as_text=True)
    no_traceback(body)
    allowed = set(case.statuses) | ({200} if path == "/" else set())  # the home page may just show the form
    assert response.status_code in allowed, (response.status_code, body[:500])
    assert response.mimetype == "text/html"
    for markup in RAW_MARKUP:
        assert markup not in body
    if response.status_code >= 400 and case.param is not None and path == "/search":
        # The page lists the problem above the form, with the reason.
        assert 'class="error-summary"' in body
        if case.words is not None:
            assert case.words.lower() in html.unescape(body).lower(), case.words
    assert store_snapshot(web_site.app) == snapshot


# ---------------------------------------------------------------------------
# headers and methods

HEADER_CASES: list[tuple[str, str, dict[str, str], tuple[int, ...]]] = [
    ("junk Accept", "/api/v1/search?near=LS6", {"Accept": "!!!/???; q=abc, */*;q=-1"}, (200,)),
    ("huge Accept-Language", "/search?near=LS6", {"Accept-Language": "en-GB," * 2000}, (200,)),
    ("junk If-None-Match", "/api/v1/search?near=LS6", {"If-None-Match": '"unterminated, W/, *, "' + "x" * 500}, (200,)),
    ("star If-None-Match", "/about", {"If-None-Match": "*"}, (200, 304)),
    ("junk If-Modified-Since", "/about", {"If-Modified-Since": "Blursday, 99 Foo 20X9"}, (200,)),
    ("junk Range", "/about", {"Range": "bytes=999999-1,-,a-b"}, (200, 206, 416)),
    ("huge Cookie", "/search?near=LS6", {"Cookie": "a=" + "c" * 8000 + "; ; ;=; b"}, (200,)),
    ("junk X-Forwarded-For", "/api/v1/search?near=LS6", {"X-Forwarded-For": "not-an-ip, ;DROP, ::::"}, (200,)),
    ("junk X-Request-ID", "/about", {"X-Request-ID": "<script>" + "r" * 300}, (200,)),
    ("odd Host", "/api/v1/search?near=LS6", {"Host": "evil.example:99999"}, (200, 400)),
    ("JSON body on a GET", "/api/v1/search?near=LS6", {"Content-Type": "application/json"}, (200,)),
    ("junk Content-Type", "/search?near=LS6", {"Content-Type": "multipart/form-data; boundary="}, (200,)),
    ("junk Authorization", "/api/v1/vocabularies", {"Authorization": "Bearer \u00ff\u00fe"}, (200,)),
    ("control characters in User-Agent", "/about", {"User-Agent": "x\x01\x02\x7f"}, (200,)),
    ("CORS preflight with junk", "/api/v1/search", {"Origin": "null", "Access-Control-Request-Method": "DELETE"}, (200, 204, 405)),
]


@pytest.mark.parametrize(("name", "path", "headers", "statuses"), HEADER_CASES, ids=[c[0] for c in HEADER_CASES])
def test_header_junk(name: str, path: str, headers: dict[str, str], statuses: tuple[int, ...], web_site: Any, snapshot: list[Any]) -> None:
    client = web_site.client()
    environ = {f"HTTP_{key.upper().replace('-', '_')}": value for key, value in headers.items()}
    if "Content-Type" in headers:
        environ = {"CONTENT_TYPE": headers["Content-Type"]}
    method = "OPTIONS" if name.startswith("CORS") else "GET"
    data = b'{"q": ' * 1000 if name == "JSON body on a GET" else None
    response = client.open(path, method=method, environ_base=environ, data=data)
    no_traceback(response.get_data(as_text=True))
    assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True)[:300])
    assert "<script>" not in response.headers.get("X-Request-ID", "")
    assert store_snapshot(web_site.app) == snapshot


WRITE_METHODS = ["POST", "PUT", "DELETE", "PATCH", "PROPFIND", "TRACE"]
WRITE_PATHS = ["/api/v1/search", "/search", "/practitioners/1", "/healthz"]


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize("path", WRITE_PATHS)
def test_write_methods_are_refused(method: str, path: str, web_site: Any, snapshot: list[Any]) -> None:
    response = web_site.client().open(path, method=method, data=b"name=x&id=1")
    assert response.status_code == 405, response.status_code
    no_traceback(response.get_data(as_text=True))
    assert store_snapshot(web_site.app) == snapshot


ABSURD_PATHS = [
    "/api/v1/practitioners/99999999999999999999",
    "/api/v1/practitioners/-1",
    "/api/v1/practitioners/0",
    "/api/v1/practitioners/1e3",
    "/api/v1/practitioners/%00",
    "/practitioners/" + "9" * 5000,
    "/practitioners/1/referral.txt%00.html",
    "/api/v1/" + "a/" * 2000,
    "/%ED%A0%80",
    "/static/..%2f..%2fpyproject.toml",
]


@pytest.mark.parametrize("path", ABSURD_PATHS)
def test_absurd_paths_are_clear_404s(path: str, web_site: Any, snapshot: list[Any]) -> None:
    response = web_site.client().get(path)
    assert response.status_code == 404, response.status_code
    no_traceback(response.get_data(as_text=True))
    if path.startswith("/api/"):
        assert response.mimetype == "application/problem+json"
    assert store_snapshot(web_site.app) == snapshot


def test_trusted_hosts_refuse_a_forged_host_clearly(web_site: Any) -> None:
    """FINDER_TRUSTED_HOSTS (Flask's TRUSTED_HOSTS) stops forged Host headers from reaching links."""
    from finder import create_app

    config = dict(web_site.app.config)
    config["PUBLIC_URL"] = "https://physio.example.org"  # trusted hosts default to its host
    app = create_app({k: config[k] for k in ("TESTING", "INSTANCE_PATH", "DATABASE_URL", "GAZETTEER_PATH", "INDEX_DIR", "RATELIMIT_ENABLED", "SECRET_KEY", "PUBLIC_URL")})
    client = app.test_client()
    forged = client.get("/api/v1/search?near=LS6", headers={"Host": "evil.example"})
    assert forged.status_code == 400
    no_traceback(forged.get_data(as_text=True))
    good = client.get("/api/v1/search?near=LS6", headers={"Host": "physio.example.org"})
    assert good.status_code == 200
    results = good.get_json()["results"]
    assert results and all(r["url"].startswith("https://physio.example.org/") for r in results)
    store_from(app).dispose()


def corpus_size() -> dict[str, int]:
    """How many cases this file holds (each query case runs against three addresses)."""
    return {
        "query strings": len(CASES),
        "headers": len(HEADER_CASES),
        "paths": len(ABSURD_PATHS),
        "methods": len(WRITE_METHODS) * len(WRITE_PATHS),
        "trusted hosts": 1,
    }
