"""`finder demo` and `finder serve`: the plain function behind them, and the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from finder.cli import prepare_demo, sample_csv_path, site_url
from finder.db import store_from
from tests.helpers import csv_bytes, csv_row


@pytest.fixture
def app_config(app_config: dict[str, Any], gazetteer_path: Path) -> dict[str, Any]:
    # The session's small gazetteer stands in for the full build (which takes half a minute).
    return {**app_config, "GAZETTEER_PATH": str(gazetteer_path)}


@pytest.fixture
def demo_app(app: Any) -> Any:
    return app


@pytest.fixture
def small_sample(tmp_path: Path) -> Path:
    path = tmp_path / "practitioners.csv"
    rows = [
        csv_row(source_id="s-1", name="Ada Sample", hcpc_number="PH9900001", conditions="multiple_sclerosis", is_sample="yes",
                registration_status="registered", registration_checked_on="2026-10-01"),
        csv_row(source_id="s-2", name="Ben Sample", hcpc_number="PH9900002", specialisms="musculoskeletal",
                conditions="back_pain", postcode="LS1 4AP", lat="53.799", lon="-1.549", is_sample="yes"),
        csv_row(source_id="s-3", name="Cat Sample", hcpc_number="PH9900003", postcode="LS6 2AB", lat="", lon="", is_sample="yes"),
    ]
    path.write_bytes(csv_bytes(rows))
    return path


def test_prepare_demo_sets_everything_up_and_is_idempotent(demo_app: Any, small_sample: Path) -> None:
    said: list[str] = []
    first = prepare_demo(demo_app, say=said.append, sample_path=small_sample)
    assert first.sample.added == 3 and first.sample.rejected == 0
    assert first.index_documents == 3
    assert not first.gazetteer_built  # already there: not rebuilt
    assert any("FICTIONAL" in line for line in said)
    assert "index:     3 listings" in first.summary()

    again = prepare_demo(demo_app, sample_path=small_sample)
    assert (again.sample.added, again.sample.unchanged) == (0, 3)
    assert store_from(demo_app).count() == 3
    assert again.index_documents == 3

    # The prepared site answers the README's first search, with the sample banner.
    client = demo_app.test_client()
    page = client.get("/search?near=LS6&q=multiple+sclerosis")
    body = page.get_data(as_text=True)
    assert page.status_code == 200, body
    assert "Ada Sample" in body and "FICTIONAL sample practitioners" in body
    api = client.get("/api/v1/search?near=LS6&q=multiple+sclerosis").get_json()
    assert {"Ada Sample", "Cat Sample"} <= {r["name"] for r in api["results"]}
    # The postcode-only row was placed by the gazetteer.
    cat = client.get("/api/v1/search?near=LS6&q=Cat+Sample").get_json()["results"][0]
    assert cat["nearest_location"]["lat"] is not None


def test_prepare_demo_builds_a_missing_gazetteer(
    app_config: dict[str, Any], tmp_path: Path, small_sample: Path, monkeypatch: pytest.MonkeyPatch, gazetteer_path: Path
) -> None:
    from finder import create_app

    app = create_app({**app_config, "GAZETTEER_PATH": str(tmp_path / "new" / "gazetteer.sqlite")})
    built: list[Path] = []

    def fake_build(path: Any, *, progress: bool = False, **_: Any) -> None:
        # Copy the session's small build instead of spending half a minute on the full one.
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(gazetteer_path.read_bytes())
        built.append(Path(path))

    monkeypatch.setattr("finder.geo.gazetteer.build_gazetteer", fake_build)
    report = prepare_demo(app, sample_path=small_sample)
    assert report.gazetteer_built and built == [Path(app.config["GAZETTEER_PATH"])]


def test_prepare_demo_refuses_a_bad_sample_file(demo_app: Any, tmp_path: Path) -> None:
    from finder.errors import FinderError

    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([csv_row(specialisms="wizardry")]))
    with pytest.raises(FinderError, match="could not be imported"):
        prepare_demo(demo_app, sample_path=bad)
    assert store_from(demo_app).count() == 0


def test_demo_command_without_serving(demo_app: Any, runner: Any, small_sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("finder.cli.sample_csv_path", lambda: small_sample)
    served: list[tuple[str, int]] = []
    monkeypatch.setattr("finder.cli.serve_app", lambda app, host, port, **_: served.append((host, port)))
    result = runner.invoke(["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "sample:    read 3, added 3" in result.output
    assert served == []
    result = runner.invoke(["demo", "--port", "5055"])
    assert result.exit_code == 0, result.output
    assert "Physio Finder is running at http://127.0.0.1:5055" in result.output
    assert "FICTIONAL" in result.output
    assert served == [("127.0.0.1", 5055)]


def test_serve_command(demo_app: Any, runner: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[tuple[str, int]] = []
    monkeypatch.setattr("finder.cli.serve_app", lambda app, host, port: served.append((host, port)))
    result = runner.invoke(["serve"])
    assert result.exit_code == 1 and "finder init-db" in result.output  # no store yet: says what to run
    store_from(demo_app).upgrade()
    result = runner.invoke(["serve", "--host", "0.0.0.0", "--port", "8000"])
    assert result.exit_code == 0, result.output
    assert served == [("0.0.0.0", 8000)]
    assert "http://127.0.0.1:8000" in result.output


def test_serve_reports_a_busy_port(demo_app: Any) -> None:
    import socket

    from finder.cli import serve_app
    from finder.errors import FinderError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(FinderError, match="try another --port"):
            serve_app(demo_app, "127.0.0.1", port)


def test_site_url() -> None:
    assert site_url("0.0.0.0", 5000) == "http://127.0.0.1:5000"
    assert site_url("127.0.0.1", 8080) == "http://127.0.0.1:8080"


def test_the_shipped_sample_is_found() -> None:
    assert sample_csv_path().name == "practitioners.csv"
    assert sample_csv_path().parent.name == "sample"
