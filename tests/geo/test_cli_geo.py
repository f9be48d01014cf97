"""`finder geo build|resolve|info` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from finder import create_app
from finder.cli import main


def _runner(tmp_path: Path, **config: Any) -> Any:
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "t", **config})
    runner = app.test_cli_runner()
    return app, lambda args: runner.invoke(main, args)


def test_build_into_the_configured_path_and_rebuild(tmp_path: Path, few_places: None) -> None:
    app, invoke = _runner(tmp_path)
    missing = invoke(["geo", "info"])
    assert missing.exit_code == 1 and "run `finder geo build`" in missing.output
    result = invoke(["geo", "build", "--areas", "hg", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Built the gazetteer at" in result.output and "areas HG" in result.output
    assert Path(app.config["GAZETTEER_PATH"]).exists()
    again = invoke(["geo", "build", "--areas", "HG"])
    assert again.exit_code == 0, again.output
    info = invoke(["geo", "info"])
    assert info.exit_code == 0
    assert "areas: hg" in info.output and "Crown copyright" in info.output and "GeoNames" in info.output


def test_build_refuses_unknown_areas(tmp_path: Path) -> None:
    _, invoke = _runner(tmp_path)
    result = invoke(["geo", "build", "--areas", "ls,bt", "--path", str(tmp_path / "g.sqlite")])
    assert result.exit_code == 1
    assert "'bt' is not a postcode area we have data for (Northern Ireland" in result.output
    assert not (tmp_path / "g.sqlite").exists()


def test_resolve(tmp_path: Path, gazetteer_path: Path) -> None:
    _, invoke = _runner(tmp_path, GAZETTEER_PATH=str(gazetteer_path))
    found = invoke(["geo", "resolve", "ls6 2ab"])
    assert found.exit_code == 0
    assert found.output.startswith("LS6 2AB: 53.82221")
    as_json = json.loads(invoke(["geo", "resolve", "Harrogate", "--json"]).output)
    assert as_json["label"] == "Harrogate, North Yorkshire" and as_json["source"] == "geonames"
    ambiguous = invoke(["geo", "resolve", "St Ives"])
    assert ambiguous.exit_code == 1
    assert "St Ives, Cornwall (TR26)" in ambiguous.output and "St Ives, Cambridgeshire (PE27)" in ambiguous.output
    candidates = json.loads(invoke(["geo", "resolve", "St Ives", "--json"]).output)["candidates"]
    assert [c["label"] for c in candidates] == ["St Ives, Cambridgeshire (PE27)", "St Ives, Cornwall (TR26)"]
    unsupported = invoke(["geo", "resolve", "BT1 1AA"])
    assert unsupported.exit_code == 1
    assert unsupported.output.startswith("Error: BT1 1AA is a Northern Ireland postcode")
