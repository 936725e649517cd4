"""latency_tables/FORMAT.md is generated from the profile's pydantic schema and kept current."""

from __future__ import annotations

from importlib import resources

import pytest

from nas.latency import format_doc


def test_the_committed_format_reference_is_what_the_schema_renders():
    committed = resources.files("latency_tables").joinpath("FORMAT.md").read_text()
    assert committed == format_doc.render(), "latency_tables/FORMAT.md is stale: run `python -m nas.latency.format_doc`"


def test_every_field_of_the_profile_is_in_the_reference():
    text = format_doc.render()
    for path in ("schema_version", "device.accelerator", "entries.*.min", "calibration.networks[].measured_ms",
                 "measurement.sessions", "fit.bank", "speed_check.factor"):
        assert f"| `{path}` |" in text, path


def test_a_field_without_a_meaning_is_refused(monkeypatch):
    meanings = dict(format_doc.MEANINGS)
    del meanings["device.threads"]
    monkeypatch.setattr(format_doc, "MEANINGS", meanings)
    with pytest.raises(KeyError, match=r"no meaning for \['device.threads'\]"):
        format_doc.render()


def test_a_meaning_without_a_field_is_refused(monkeypatch):
    monkeypatch.setattr(format_doc, "MEANINGS", {**format_doc.MEANINGS, "device.colour": "no such field"})
    with pytest.raises(KeyError, match=r"no such field: \['device.colour'\]"):
        format_doc.render()


def test_check_says_whether_a_file_is_current(tmp_path, capsys):
    out = tmp_path / "FORMAT.md"
    assert format_doc.main(["--check", "--out", str(out)]) == 1
    assert format_doc.main(["--out", str(out)]) == 0
    assert format_doc.main(["--check", "--out", str(out)]) == 0
    assert "is current" in capsys.readouterr().out
