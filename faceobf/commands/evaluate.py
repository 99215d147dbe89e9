"""`faceobf evaluate` and `faceobf human-test`: obfuscation methods judged by machines and by people."""

from __future__ import annotations

import argparse
from pathlib import Path

from faceobf.commands.common import LazyChoices, add_model_choice, add_profile, add_root, announce_profile
from faceobf.errors import OutputExistsError


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from faceobf.data import CelebA
    from faceobf.evaluate.report import markdown_table
    from faceobf.evaluate.study import run_study, write_study

    from faceobf.evaluate.methods import DEFAULT_METHODS

    profile = announce_profile(args)
    study = run_study(profile, CelebA.open(args.root), args.encoding, args.methods or DEFAULT_METHODS)
    json_path, md_path = write_study(study, Path(args.out))
    print(markdown_table(study.table))
    print(f"reports: {json_path} and {md_path}")
    return 0


def _cmd_human_make(args: argparse.Namespace) -> int:
    from faceobf.data import CelebA
    from faceobf.evaluate.human_test import write_human_test
    from faceobf.evaluate.methods import get_method
    from faceobf.evaluate.protocol import human_test_material

    if (Path(args.out) / "key.json").exists():
        raise OutputExistsError(f"{args.out}: already holds a human test (key.json); choose a new --out folder")
    method = get_method(args.method)
    profile = announce_profile(args)
    sheets, images, machine = human_test_material(profile, CelebA.open(args.root), args.encoding, method.name, args.trials, args.seed,
                                                  form=args.form)
    paths = write_human_test(Path(args.out), sheets, images, method.name, method.label, machine)
    print(f"{len(sheets)} sheets of {method.label}: open {paths['page']} in a browser (works offline); "
          f"keep {paths['key']} away from assessors")
    print(f"score an assessor's export with: faceobf human-test score ANSWERS.json --key {paths['key']}")
    print(f"the machine assessor's picks on the same sheets: {paths['machine']}")
    return 0


def _cmd_human_score(args: argparse.Namespace) -> int:
    import json

    from faceobf.evaluate.human_test import describe_score, score_file

    scores = [score_file(Path(p), Path(args.key) if args.key else None) for p in args.answers]
    for score in scores:
        print(describe_score(score))
    if args.json:
        print(json.dumps(scores if len(scores) > 1 else scores[0], indent=2))
    return 0


def _method_names() -> list[str]:
    """The registry's method names (imported when an option is checked or its help printed)."""
    from faceobf.evaluate.methods import METHODS

    return list(METHODS)


def add_parsers(commands) -> None:
    """`faceobf evaluate` and `faceobf human-test make | score`."""
    ev = commands.add_parser("evaluate", help="machine assessor, landmark attacker and the seed's protocol over obfuscation methods")
    ev.add_argument("--methods", nargs="+", choices=LazyChoices(_method_names), metavar="METHOD",
                    help="methods to compare (default all: %(choices)s)")
    add_profile(ev, "whose models and evaluation size (default: the active profile)")
    add_model_choice(ev)
    add_root(ev)
    ev.add_argument("--out", default=".", help="folder for evaluation.json and evaluation.md (default: here)")
    ev.set_defaults(func=_cmd_evaluate)

    human = commands.add_parser("human-test", help="the seed's human test: offline HTML trial sheets and their scorer")
    human_commands = human.add_subparsers(dest="human_command", required=True)
    make = human_commands.add_parser("make", help="write index.html (self-contained, offline), key.json and the machine's answers")
    make.add_argument("--out", required=True, help="new folder for the test")
    make.add_argument("--method", required=True, metavar="METHOD",
                      choices=LazyChoices(lambda: [m for m in _method_names() if m != "original"]),
                      help="how the matching face is processed: %(choices)s")
    make.add_argument("--trials", type=int, default=20, help="number of sheets (default 20)")
    make.add_argument("--form", choices=["query", "pairs"], default="query",
                      help="query: the processed face above 9 originals, pick its match (default); pairs: the seed's 10 faces, "
                           "pick the matching two (chance 1/9 for both)")
    make.add_argument("--seed", type=int, default=0, help="seed of the sheet draw (default 0)")
    add_profile(make, "whose models and test faces (default: the active profile)")
    add_model_choice(make)
    add_root(make)
    make.set_defaults(func=_cmd_human_make)
    score = human_commands.add_parser("score", help="success rate of exported answers, 95% CI, test against the sheets' chance level (1/9)")
    score.add_argument("answers", nargs="+", help="answers JSON files exported by the page (or machine_answers.json)")
    score.add_argument("--key", help="the test's key.json (default: beside the answers, else where the page was made)")
    score.add_argument("--json", action="store_true", help="also print the scores as JSON")
    score.set_defaults(func=_cmd_human_score)
