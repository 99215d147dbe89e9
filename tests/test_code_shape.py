"""The code stays small enough to change: short functions, a short command-line module, inference that never enters
training, and the names the command line offers kept equal to the library's."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "faceobf"


def test_no_function_is_longer_than_80_lines() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 80:
                long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} "
                            f"({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long


def test_the_command_line_module_stays_under_350_lines() -> None:
    assert len((PACKAGE / "cli.py").read_text().splitlines()) < 350


def test_finished_models_load_for_inference_without_importing_training() -> None:
    code = ("import sys\n"
            "from faceobf import trained\n"
            "from faceobf.obfuscate.policies import FlipNamed\n"
            "from faceobf.profiles import get_profile\n"
            "profile = get_profile('cpu')\n"
            "trained.obfuscator(profile, 'onehot', FlipNamed(('Smiling',)))\n"
            "trained.classifier(profile)\n"
            "print(sorted(m for m in sys.modules if m == 'faceobf.train' or m.startswith('faceobf.train.')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_the_landmark_subsets_the_command_line_offers_are_the_librarys() -> None:
    from faceobf.disentangle.landmarks import LANDMARK_SUBSETS
    from faceobf.options import LANDMARK_SUBSET_NAMES

    assert tuple(LANDMARK_SUBSETS) == LANDMARK_SUBSET_NAMES
