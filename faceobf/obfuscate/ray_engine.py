"""The batch tool on Ray: the same per-input function over many files, each worker loading the models once.

The driver (`faceobf.obfuscate.batch`) decides every input's fate as in a local run (refused, done
before, blocked by an output) and holds the output folder's lock; Ray Data then maps
`batch.process_input` over the inputs left, with an actor pool of `workers` (each builds the
obfuscator once), and every worker appends its records to the same report (one `write` per record
on a file opened for appending) before it renames an output into place. The outputs and the report's
records are those of a local run; only the records' order follows completion.

On a cluster every node needs faceobf installed and the inputs and the output folder on a shared file
system; `address` is the cluster's (`ray start --head` prints it), or None for a local Ray instance.
Ray starts quietly: token authentication stays on for a local instance (Ray's default) without its
notice, and Ray Data's progress and execution logs are off; errors still show.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from pathlib import Path
from typing import Callable

from faceobf.obfuscate.inputs import Input


def run_on_ray(make_obfuscator: Callable, jobs: list[tuple[Input, Path]], process: Callable, open_writer: Callable,
               workers: int | None = None, address: str | None = None) -> list[tuple[dict, dict]]:
    """[(record, counts as a dict)] of every job (input, target): `process(obfuscator, input, target, writer)` run by
    `workers` Ray actors (default: one per CPU), each with the obfuscator `make_obfuscator()` and the writer
    `open_writer()` it makes once."""
    import ray
    import ray.data  # configures its loggers on import: before they are quietened below

    started = not ray.is_initialized()
    # Ray's notices (token authentication switched on, as Ray does by default; "Starting execution of Dataset",
    # "Progress bars disabled") go; their warnings about anything else stay
    quiet = {name: logging.getLogger(name) for name in ("ray._private.authentication.authentication_token_setup", "ray.data")}
    levels = {name: log.level for name, log in quiet.items()}
    for log in quiet.values():
        log.setLevel(logging.ERROR)
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars, context.print_on_execution_start = False, False
        pool = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))

        class Worker:
            def __init__(self) -> None:
                self.tool = make_obfuscator()  # the models load once per worker
                self.writer = open_writer()

            def __call__(self, batch: dict) -> dict:
                records, counts = [], []
                for path, relative, target, refusal in zip(batch["path"], batch["relative"], batch["target"], batch["refusal"]):
                    entry, summary = process(self.tool, Input(Path(path), Path(relative), refusal or None), Path(target), self.writer)
                    records.append(json.dumps(entry))
                    counts.append(json.dumps(dataclasses.asdict(summary)))
                return {"record": records, "counts": counts}

        items = [{"path": str(i.path), "relative": str(i.relative), "target": str(t), "refusal": i.refusal or ""} for i, t in jobs]
        with warnings.catch_warnings():  # Ray 2.60 deprecates extra remote arguments, and still says to pass this one
            warnings.simplefilter("ignore", DeprecationWarning)
            dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
                Worker, batch_size=1, compute=ray.data.ActorPoolStrategy(size=min(pool, len(items))), num_cpus=1,
                max_restarts=0)  # a dead worker is not restarted (its inputs get no record and the next run redoes them)
        rows = dataset.take_all()
    finally:
        for name, log in quiet.items():
            log.setLevel(levels[name])
        if started:
            ray.shutdown()
    return [(json.loads(row["record"]), json.loads(row["counts"])) for row in rows]
