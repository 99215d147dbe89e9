"""The `faceobf` command: help, profile selection, and one-line errors instead of tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceobf.commands import obfuscate as obfuscate_command

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


def test_a_users_error_is_one_line_and_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from faceobf import cli
    from faceobf.errors import FaceobfError, UsageError

    def users_error(args):
        raise UsageError("--thing 3: choose 1 or 2")

    def bug(args):
        raise ValueError("an internal invariant broke")

    monkeypatch.setattr(cli, "_cmd_info", users_error)
    assert main(["info"]) == 2
    assert capsys.readouterr().err == "faceobf: error: --thing 3: choose 1 or 2\n"
    monkeypatch.setattr(cli, "_cmd_info", bug)
    with pytest.raises(ValueError, match="invariant"):  # not swallowed into a one-line 'user error'
        main(["info"])
    assert issubclass(UsageError, FaceobfError) and issubclass(UsageError, ValueError)


@pytest.mark.parametrize("argv, named", [
    (["obfuscate", "{tmp}/missing.jpg"], "missing.jpg: no such file or folder"),
    (["obfuscate", "{tmp}/photo.png", "--flip", "Pointy_Chin"], "unknown attribute 'Pointy_Chin'"),
    (["obfuscate", "{tmp}/photo.png", "--flip", "Male"], "--unprotect"),
    (["obfuscate", "{tmp}/photo.png", "--min-score", "hog=high"], "--min-score 'hog=high'"),
    (["obfuscate", "{tmp}/photo.png", "--policy", "random", "--k", "99"], "k must be between 1 and"),
    (["models", "import", "{tmp}/not-a-model"], "not a folder written by `faceobf models export`"),
    (["human-test", "score", "{tmp}/answers.json"], "answers.json: no such answers file"),
    (["data", "import", "{tmp}", "{tmp}/out"], "holds no CelebA layout faceobf knows"),
])
def test_user_errors_of_each_command_are_named_on_one_line(argv: list[str], named: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys) -> None:
    from faceobf import trained

    monkeypatch.setenv("FACEOBF_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(trained, "obfuscator", lambda *a, **k: pytest.fail("the models were loaded before the options were checked"))
    from PIL import Image

    Image.new("RGB", (64, 64)).save(tmp_path / "photo.png")
    (tmp_path / "not-a-model").mkdir()
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("faceobf: error: ") and named in err and "Traceback" not in err


def test_obfuscate_help_keeps_model_options_apart_from_the_users(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["obfuscate", "--help"])
    text = capsys.readouterr().out
    text = text[text.index("options:"):]  # past the usage line, which names every option
    models = text.index("which trained models")
    for training_only in ("--recipe", "--landmarks", "--checkpoint"):
        assert text.index(training_only) > models  # listed under the models' group, not among the user's options
    assert text.index("--policy") < models and "large collections (Ray)" in text


def test_ctrl_c_ends_an_obfuscate_run_with_its_summary_and_exit_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from PIL import Image

    from faceobf import cli

    class Interrupted:
        def obfuscate_photo(self, photo, allow_no_face: bool = False):
            raise KeyboardInterrupt

    for name in ("a.png", "b.png"):
        Image.new("RGB", (32, 32)).save(tmp_path / name)
    monkeypatch.setattr(obfuscate_command, "build_obfuscator", lambda args: Interrupted())
    assert main(["obfuscate", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "out")]) == 130
    out = capsys.readouterr().out
    assert "interrupted: run the same command again to finish" in out and "report: " in out and "Traceback" not in out
