"""The batch tool on Ray: the same per-input function over many files, each worker loading the models once.

The driver (`faceobf.obfuscate.batch`) decides every input's fate as in a local run (refused, done
before, blocked by an output) and holds the output folder's lock; Ray Data then maps
`batch.process_input` over the inputs left, with an actor pool of `workers` (each builds the
obfuscator once), and every worker appends its records to the same report (one `write` per record
on a file opened for appending) before it renames an output into place. The outputs and the report's
records are those of a local run; only the records' order follows completion.

On a cluster every node needs faceobf installed and the inputs and the output folder on a shared file
system; `address` is the cluster's (`ray start --head` prints it), or None for a local Ray instance.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

from faceobf.obfuscate.inputs import Input


def run_on_ray(make_obfuscator: Callable, jobs: list[tuple[Input, Path]], sources: list[Path], report_path: Path,
               allow_no_face: bool, workers: int | None = None, address: str | None = None) -> list[tuple[dict, object]]:
    """[(record, counts)] of every job (input, target), processed by `workers` Ray actors (default: one per CPU)."""
    import ray

    from faceobf.obfuscate.batch import ReportWriter, Summary, process_input

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 runtime_env={"env_vars": {"RAY_DATA_DISABLE_PROGRESS_BARS": "1"}})
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        pool = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))

        class Worker:
            def __init__(self) -> None:
                self.tool = make_obfuscator()  # the models load once per worker
                self.writer = ReportWriter(Path(report_path))

            def __call__(self, batch: dict) -> dict:
                records, counts = [], []
                for path, relative, target, refusal in zip(batch["path"], batch["relative"], batch["target"], batch["refusal"]):
                    entry, summary = process_input(self.tool, Input(Path(path), Path(relative), refusal or None), Path(target),
                                                   [Path(s) for s in sources], self.writer, allow_no_face)
                    records.append(json.dumps(entry))
                    counts.append(json.dumps(dataclasses.asdict(summary)))
                return {"record": records, "counts": counts}

        items = [{"path": str(i.path), "relative": str(i.relative), "target": str(t), "refusal": i.refusal or ""} for i, t in jobs]
        rows = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            Worker, batch_size=1, concurrency=min(pool, len(items)), num_cpus=1).take_all()
    finally:
        if started:
            ray.shutdown()
    out = []
    for row in rows:
        counts = json.loads(row["counts"])
        counts["refused"] = [tuple(r) for r in counts["refused"]]
        out.append((json.loads(row["record"]), Summary(**counts)))
    return out
