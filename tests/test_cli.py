"""The `faceobf` command: help, profile selection, and one-line errors instead of tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceobf.cli import build_parser, main


def test_info_prints_the_profile_and_hardware(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("FACEOBF_PROFILE", "ci")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("profile ci:") and "hardware: JAX" in out


def test_unknown_profile_in_the_environment_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("FACEOBF_PROFILE", "laptop")
    assert main(["info"]) == 2
    assert "unknown profile 'laptop'" in capsys.readouterr().err


def test_training_on_a_broken_folder_names_the_problem(celeba_dir: Path, capsys) -> None:
    (celeba_dir / "list_eval_partition.txt").unlink()
    assert main(["train", "fac", "--profile", "ci", "--root", str(celeba_dir)]) == 2
    err = capsys.readouterr().err
    assert "list_eval_partition.txt" in err and "faceobf data check" in err


def test_every_subcommand_has_help() -> None:
    parser = build_parser()
    for argv in (["data", "check", "--help"], ["data", "download", "--help"], ["train", "fac", "--help"], ["train", "recon", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(argv)
        assert exit_info.value.code == 0
