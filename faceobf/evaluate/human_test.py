"""The human assessor: a self-contained offline HTML page of trial sheets, and its scorer.

`write_human_test` writes `index.html` (images embedded, no network, no server: open the file in any
browser), `key.json` (which pair matches on each sheet; keep it away from assessors) and
`machine_answers.json` when the machine's picks are given. The page shows each sheet in its form
(`query`: the processed face above nine originals, pick the one that is the same person; `pairs`: ten
faces, pick the two that are), records each pick and its response time, keeps progress in the
browser's local storage, and exports the answers as JSON. `score_answers` gives the success rate with
an exact (Clopper-Pearson) confidence interval and a one-sided binomial test against the sheets' chance
level, 1/9 in both forms (see `faceobf.evaluate.sheets`).
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from faceobf.errors import FaceobfError, OutputExistsError
from faceobf.evaluate.metrics import binomial_interval, binomial_p_above
from faceobf.evaluate.sheets import TrialSheet, chance_level, naive_chance_level
from faceobf.io import atomic_path, write_json


class AnswersError(FaceobfError, ValueError):
    """An answers file that cannot be scored; the message names the file and the problem."""


def _data_uri(image: np.ndarray, quality: int = 90) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>faceobf human test</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 1em auto; color: #222; }}
#grid {{ display: grid; grid-template-columns: repeat(5, 1fr); gap: 8px; margin: 1em 0; }}
#query {{ width: 20%; margin: 0.5em 0; border: 4px solid #333; }}
.face {{ border: 4px solid transparent; cursor: pointer; width: 100%; box-sizing: border-box; }}
.face.picked {{ border-color: #d33; }}
button {{ font-size: 1.1em; padding: 0.4em 1.2em; }}
#done {{ display: none; }}
textarea {{ width: 100%; height: 10em; }}
</style></head><body>
<h1>{title}</h1>
<p>{instructions} Answer by your first impression; there is no time limit, but the time you take is
recorded.</p>
<p><label>Your name or code (optional): <input id="assessor" type="text"></label></p>
<div id="test">
<p id="progress"></p>
<img id="query" alt="the processed face" style="display: none">
<div id="grid"></div>
<button id="confirm" disabled>Confirm</button>
</div>
<div id="done">
<h2>Thank you: all sheets answered.</h2>
<p><button id="export">Download answers (JSON)</button> and send the file to the person running the test.
If the download does not work, copy the text below into a file called answers.json.</p>
<textarea id="answers" readonly></textarea>
</div>
<script>
const TEST = {meta};
const SHEETS = {sheets};
const storeKey = "faceobf-" + TEST.test_id;
let state = JSON.parse(localStorage.getItem(storeKey) || "null") || {{answers: []}};
let picked = [], shownAt = 0;
function save() {{ try {{ localStorage.setItem(storeKey, JSON.stringify(state)); }} catch (e) {{}} }}
function result() {{
  return {{format: "faceobf-human-test-answers/1", test_id: TEST.test_id, method: TEST.method, key_path: TEST.key_path,
          assessor: document.getElementById("assessor").value, finished: new Date().toISOString(), answers: state.answers}};
}}
function render() {{
  const k = state.answers.length;
  if (k >= SHEETS.length) {{
    document.getElementById("test").style.display = "none";
    document.getElementById("done").style.display = "block";
    document.getElementById("answers").value = JSON.stringify(result(), null, 1);
    return;
  }}
  document.getElementById("progress").textContent = "Sheet " + (k + 1) + " of " + SHEETS.length;
  const grid = document.getElementById("grid"), query = document.getElementById("query"), sheet = SHEETS[k];
  grid.innerHTML = "";
  picked = [];
  if (sheet.query === null) {{ query.style.display = "none"; }}
  else {{ query.src = sheet.faces[sheet.query]; query.style.display = "block"; }}
  sheet.faces.forEach((src, i) => {{
    if (i === sheet.query) return;
    const img = document.createElement("img");
    img.src = src; img.className = "face"; img.dataset.index = i; img.alt = "face " + (i + 1);
    img.addEventListener("click", () => toggle(i, img));
    grid.appendChild(img);
  }});
  document.getElementById("confirm").disabled = true;
  shownAt = performance.now();
}}
function toggle(i, img) {{
  const need = SHEETS[state.answers.length].picks;
  if (picked.includes(i)) {{ picked = picked.filter(j => j !== i); img.classList.remove("picked"); }}
  else if (picked.length < need) {{ picked.push(i); img.classList.add("picked"); }}
  document.getElementById("confirm").disabled = picked.length !== need;
}}
document.getElementById("confirm").addEventListener("click", () => {{
  if (picked.length !== SHEETS[state.answers.length].picks) return;
  const k = state.answers.length;
  state.answers.push({{trial: SHEETS[k].trial, picks: picked.slice().sort((a, b) => a - b), ms: Math.round(performance.now() - shownAt)}});
  save(); render();
}});
document.getElementById("export").addEventListener("click", () => {{
  const text = JSON.stringify(result(), null, 1);
  document.getElementById("answers").value = text;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], {{type: "application/json"}}));
  a.download = "answers-" + TEST.method + "-" + TEST.test_id.slice(0, 8) + ".json";
  document.body.appendChild(a); a.click(); a.remove();
}});
render();
</script>
</body></html>
"""


INSTRUCTIONS = {
    "query": lambda n: {"title": "Which face shows the same person?", "instructions": (
        f"Each sheet shows one face on top; it has been processed to hide who it is. Below it are {n - 1} other "
        "photos; exactly one of them shows the same person (another photo of them). Click that one, then press "
        "<b>Confirm</b>.")},
    "pairs": lambda n: {"title": "Which two faces show the same person?", "instructions": (
        f"Each sheet shows {n} faces. Exactly two of them show the same person (one of the two may look edited). "
        "Click the two you think match, then press <b>Confirm</b>.")},
}


def write_human_test(out_dir: Path, sheets: list[TrialSheet], images: list[list[np.ndarray]], method: str, label: str = "",
                     machine: list[dict] | None = None) -> dict[str, Path]:
    """Write the page, the key and (optionally) the machine's answers for `sheets` shown as `images`.

    `images[t][k]` is the k-th face of sheet t as uint8 RGB. Refuses to overwrite an existing test.
    """
    out_dir = Path(out_dir)
    if (out_dir / "key.json").exists():
        raise OutputExistsError(f"{out_dir}: already holds a human test (key.json); choose a new --out folder")
    if not sheets or len(images) != len(sheets) or any(len(f) != len(s.rows) for f, s in zip(images, sheets)):
        raise ValueError("images must hold one face per shown position of every sheet")
    out_dir.mkdir(parents=True, exist_ok=True)
    test_id = uuid.uuid4().hex
    key_path = (out_dir / "key.json").resolve()
    forms = {s.form for s in sheets}
    if len(forms) != 1:
        raise ValueError(f"one test shows one sheet form, got {sorted(forms)}")
    form, n = forms.pop(), len(sheets[0].rows)
    meta = {"test_id": test_id, "method": method, "key_path": str(key_path), "form": form}
    payload = [{"trial": s.trial, "faces": [_data_uri(f) for f in faces], "query": s.processed if form == "query" else None,
                "picks": s.picks} for s, faces in zip(sheets, images)]
    page = PAGE.format(meta=json.dumps(meta), sheets=json.dumps(payload), **INSTRUCTIONS[form](n))
    with atomic_path(out_dir / "index.html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    write_json(key_path, {"format": "faceobf-human-test-key/2", "test_id": test_id, "method": method, "label": label, "form": form,
                          "created": datetime.now(timezone.utc).isoformat(), "chance": chance_level(n),
                          "sheets": [s.as_dict() for s in sheets]})
    paths = {"page": out_dir / "index.html", "key": key_path}
    if machine is not None:
        paths["machine"] = out_dir / "machine_answers.json"
        write_json(paths["machine"], {"format": "faceobf-human-test-answers/1", "test_id": test_id, "method": method,
                                      "assessor": "machine: dlib face recognition ResNet, " + ("nearest original" if form == "query" else "closest pair"),
                                      "answers": machine})
    return paths


def _load_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnswersError(f"{path}: no such {what} file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnswersError(f"{path}: not a JSON {what} file ({exc})") from None
    if not isinstance(data, dict):
        raise AnswersError(f"{path}: expected a JSON object in the {what} file")
    return data


def find_key(answers_path: Path, answers: dict, key_path: Path | None = None) -> Path:
    """The key for an answers file: `key_path`, else key.json beside the answers, else where the page said."""
    candidates = [key_path] if key_path else [Path(answers_path).with_name("key.json"), Path(answers.get("key_path", ""))]
    for c in candidates:
        if c and c.is_file():
            return c
    raise AnswersError(f"{answers_path}: cannot find the test's key.json (looked at {', '.join(map(str, filter(None, candidates)))}); pass --key")


def score_answers(answers: dict, key: dict, source: str = "answers") -> dict:
    """Success rate of one assessor's answers, with a 95% Clopper-Pearson interval and a test against chance."""
    if answers.get("test_id") != key.get("test_id"):
        raise AnswersError(f"{source}: answers belong to test {answers.get('test_id')!r}, the key to {key.get('test_id')!r}")
    sheets = {s["trial"]: s for s in key["sheets"]}
    records = answers.get("answers")
    if not isinstance(records, list) or not records:
        raise AnswersError(f"{source}: no answers recorded")
    seen, correct, times = set(), [], []
    for k, rec in enumerate(records):
        trial, picks = rec.get("trial"), rec.get("picks")
        if trial not in sheets:
            raise AnswersError(f"{source}: answer {k} is for unknown trial {trial!r}")
        if trial in seen:
            raise AnswersError(f"{source}: trial {trial} answered twice")
        sheet = sheets[trial]
        need = len(sheet["match"])
        allowed = [p for p in range(len(sheet["rows"])) if sheet.get("form", "pairs") == "pairs" or p != sheet["processed"]]
        if not (isinstance(picks, list) and len(picks) == need and len(set(picks)) == need and all(isinstance(p, int) and p in allowed for p in picks)):
            raise AnswersError(f"{source}: answer {k} (trial {trial}) must pick {need} different face(s) among positions "
                               f"{allowed}, got {picks!r}")
        seen.add(trial)
        correct.append(sorted(picks) == list(sheet["match"]))
        if isinstance(rec.get("ms"), (int, float)):
            times.append(rec["ms"])
    n, s = len(correct), int(sum(correct))
    first = next(iter(sheets.values()))
    form, faces = first.get("form", "pairs"), len(first["rows"])
    chance = chance_level(faces)
    lo, hi = binomial_interval(s, n)
    return {"method": key.get("method"), "assessor": answers.get("assessor", ""), "form": form, "trials": n,
            "of_sheets": len(sheets), "correct": s, "success_rate": s / n, "ci95": [lo, hi], "chance": chance,
            "naive_chance": naive_chance_level(faces) if form == "pairs" else chance,
            "p_above_chance": binomial_p_above(s, n, chance), "median_ms": float(np.median(times)) if times else None}


def score_file(answers_path: Path, key_path: Path | None = None) -> dict:
    """`score_answers` for files: the answers JSON and its key (found as `find_key` says)."""
    answers = _load_json(answers_path, "answers")
    key_file = find_key(answers_path, answers, key_path)
    return score_answers(answers, _load_json(key_file, "key"), source=str(answers_path))


def describe_score(score: dict) -> str:
    """One paragraph for people: the rate, its interval, chance and what it means."""
    lo, hi = score["ci95"]
    verdict = ("far above chance: this obfuscation does not hide identity from this assessor" if lo > 2 * score["chance"]
               else "above chance" if score["p_above_chance"] < 0.05 else "not distinguishable from chance")
    return (f"{score['assessor'] or 'assessor'} on {score['method']} ({score['form']} sheets): {score['correct']} of "
            f"{score['trials']} sheets right = {score['success_rate']:.1%} (95% CI {lo:.1%}-{hi:.1%}); chance {score['chance']:.1%}, "
            f"one-sided p = {score['p_above_chance']:.2g}: {verdict}.")
