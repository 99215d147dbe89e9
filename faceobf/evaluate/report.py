"""The Markdown report of `faceobf evaluate` (the JSON report holds every number)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faceobf.evaluate.methods import METHODS

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = (
    ("faces", "faces", "{:d}"),
    ("tool_missed", "left untouched", "{:.1%}"),
    ("recall_at_1", "Recall@1", "{:.1%}"),
    ("recall_at_1_second", "R@1 ArcFace", "{:.1%}"),
    ("verification_at_0.6", "verified @0.6", "{:.1%}"),
    ("tar_at_far_0.01", "TAR@FAR1%", "{:.1%}"),
    ("hog_detection", "HOG det.", "{:.1%}"),
    ("cnn_detection", "CNN det.", "{:.1%}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("psnr", "PSNR dB", "{:.1f}"),
    ("kid", "KID x1e3", "{:.1f}"),
    ("landmark_recall_at_1", "landmark R@1", "{:.1%}"),
)


def label(name: str) -> str:
    return METHODS[name].label if name in METHODS else name


def _cell(row: dict, key: str, fmt: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    return fmt.format(value * 1e3) if key == "kid" else fmt.format(value)


def markdown_table(table: dict[str, dict], columns=COLUMNS) -> str:
    """One line per method."""
    lines = ["| method | " + " | ".join(title for _, title, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in table.items():
        lines.append(f"| {label(name)} | " + " | ".join(_cell(row, k, f) for k, _, f in columns) + " |")
    return "\n".join(lines)


def seed_table(seed: dict[str, dict]) -> str:
    lines = ["| method | identity CNN accuracy | held-out faces |", "|---|---|---|"]
    lines += [f"| {label(n)} | {r['accuracy']:.1%} | {r['faces']} |" for n, r in seed.items()]
    return "\n".join(lines)


def sheets_table(machine: dict[str, dict]) -> str:
    lines = ["| method | machine right | 95% CI | sheets |", "|---|---|---|---|"]
    lines += [f"| {label(n)} | {r['success_rate']:.1%} | {r['ci95'][0]:.1%}-{r['ci95'][1]:.1%} | {r['trials']} |" for n, r in machine.items()]
    return "\n".join(lines)


def landmark_table(attack: dict[str, dict]) -> str:
    names = [k for k in next(iter(attack.values())) if k != "points"]
    lines = ["| landmarks | points | " + " | ".join(label(n) for n in names) + " |", "|---" * (len(names) + 2) + "|"]
    for subset, row in attack.items():
        lines.append(f"| {subset} | {row['points']} | " + " | ".join(f"{row[n]:.1%}" if n in row else "-" for n in names) + " |")
    return "\n".join(lines)


def markdown_report(study: dict) -> str:
    """The tables with what they were measured on and how to read them."""
    c, table = study["context"], study["methods"]
    any_row = next(iter(table.values()))
    parts = [
        "# faceobf evaluation", "",
        f"Profile `{c.get('profile')}`, U-Net attribute encoding `{c.get('encoding')}`, {c.get('faces')} test faces of "
        f"{c.get('identities')} identities. Hardware: {c.get('hardware', '')}.",
        f"Assessor: {c.get('assessor', '')}. KID network: {c.get('kid_network', '')}.",
        *([f"Second recogniser: {c['second_recogniser']['what']}; Recall@1 on unseen test people's originals "
           f"{c['second_recogniser']['recall_at_1']:.1%} (chance {c['second_recogniser']['chance']:.1%})."] if c.get("second_recogniser") else []),
        "",
        "## All methods", "", markdown_table(table), "",
        f"Recall@1: the nearest of the other original test images is the same person (chance {any_row['chance_recall_at_1']:.1%}). "
        "Verified @0.6: same-person (processed, original) pairs dlib still accepts. TAR@FAR1%: same-person pairs accepted at the "
        "threshold that lets 1% of impostor pairs pass. Detection: processed faces the detector still finds. SSIM/PSNR: to the "
        "original crop. KID: kernel distance to real validation faces (lower = closer to real faces). Landmark R@1: "
        "identification from the re-detected 68 landmarks alone.", "",
    ]
    if study.get("identity_aware_subset"):
        parts += ["## All methods on the faces the identity-aware search processed", "", markdown_table(study["identity_aware_subset"]), ""]
    if study.get("seed_protocol"):
        first = next(iter(study["seed_protocol"].values()))
        parts += [f"## The seed's protocol: identity CNN on {first['identities']} identities ({first['train_faces']} training originals; "
                  f"chance {first['chance']:.1%}; seed: 60% original, 36.67% 4 flips, 30% all flips)", "", seed_table(study["seed_protocol"]), ""]
    if study.get("landmark_attack"):
        parts += ["## Landmark-leak attacker (Recall@1 from landmarks alone)", "", landmark_table(study["landmark_attack"]), ""]
    for key, form in (("machine_sheets", "the processed face above 9 originals"), ("machine_sheets_pairs", "the seed's 10 faces")):
        if study.get(key):
            parts += [f"## Machine assessor on the human-test sheets: {form} (chance {c.get('chance_sheet', 1 / 9):.1%})", "",
                      sheets_table(study[key]), ""]
    return "\n".join(parts)


def table_frame(table: dict[str, dict], columns=COLUMNS) -> pd.DataFrame:
    """The results as a pandas DataFrame (methods as rows, readable column names, numbers unformatted)."""
    import pandas as pd

    frame = pd.DataFrame({label(name): {title: row.get(key) for key, title, _ in columns} for name, row in table.items()}).T
    if "KID x1e3" in frame:
        frame["KID x1e3"] = frame["KID x1e3"].astype(float) * 1e3
    return frame


def plot_labels() -> dict[str, str]:
    """Short method names for figures, and each method's kind under '<name>:kind'."""
    short = {"original": "original", "unet_noflip": "U-Net no flip", "flip4": "4 flips", "flip_all": "all flips",
             "flip4_crop": "4 flips (crop path)", "flip4_fixed": "4 flips, fixed landmarks", "warp4": "warp only (4 flips)",
             "flip4_64": "4 flips, 64 px",
             "flip_random4": "random 4", "identity4": "identity-aware", "blur_s3": "blur σ3", "blur_s8": "blur σ8",
             "pixelate_8": "pixel 8", "pixelate_16": "pixel 16", "blackout": "black-out"}
    return {**short, **{f"{name}:kind": m.kind for name, m in METHODS.items()}}


SUBSET_COLUMNS = (
    ("recall_at_1", "Recall@1"), ("verification_at_0.6", "verified @0.6"), ("hog_detection", "HOG det."),
    ("landmark_recall_at_1", "landmark R@1 (68 points)"), ("landmark_recall_subset", "landmark R@1 (outline+nose)"),
    ("ssim", "SSIM"), ("kid", "KID x1e3"),
)


def landmark_subset_frame(both: dict[str, dict[str, dict]], methods: tuple[str, ...] = ("unet_noflip", "flip4")) -> pd.DataFrame:
    """`compare_landmark_subsets`'s tables side by side: rows (U-Net fed, method), KID scaled by 1e3."""
    import pandas as pd

    rows = {}
    for landmarks, table in both.items():
        fed = "U-Net fed all 68" if landmarks == "all" else f"U-Net fed {landmarks.replace('_', ' + ')} ({_subset_size(landmarks)})"
        for name in methods:
            row = table[name]
            rows[(fed, label(name))] = {title: (None if row.get(key) is None else row[key] * (1e3 if key == "kid" else 1))
                                        for key, title in SUBSET_COLUMNS}
    return pd.DataFrame(rows).T


def _subset_size(name: str) -> int:
    from faceobf.disentangle.landmarks import landmark_subset

    return len(landmark_subset(name))
