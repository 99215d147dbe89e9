"""Data parallelism: the FAC and U-Net steps sharded over 8 (forced) CPU devices compute what one device does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import pytest

pytestmark = pytest.mark.slow  # each test runs the steps in a fresh 8-device interpreter

# Runs in a fresh interpreter: the device count is fixed when JAX starts.
SCRIPT = textwrap.dedent(r"""
    import json, os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    import jax, jax.numpy as jnp, numpy as np
    from faceobf.data.batches import iterate_batches
    from faceobf.profiles import get_profile
    from faceobf.train.loop import fit
    from faceobf.train.parallel import DataParallel

    assert jax.local_device_count() == 8
    profile = get_profile("ci")
    rng = np.random.default_rng(0)
    copy = lambda tree: jax.tree.map(jnp.array, tree)  # the steps donate their state
    out = {}

    def compare(name, step, state, batches, lr):
        # each step starts both runs from the one-device state: Adam moves a parameter whose gradient is near zero by
        # about lr in the direction of that gradient's sign, which the reduction order can flip, and a next step taken
        # from the two states would then compare two different points (seen: 4.7% apart after two steps, 0.07% from one)
        many = DataParallel.over(len(batches[0][0]))
        one = copy(state)
        in_optimiser = ["opt_state" in jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(state)[0]]
        losses, param_diff, moment_diff = [], 0.0, 0.0
        for batch in batches:
            rep, m8 = step(many.replicate(copy(one)), *(jax.device_put(a, many.batch) for a in batch))
            one, m1 = step(one, *map(jnp.asarray, batch))
            losses.append([{k: float(v) for k, v in m1.items()}, {k: float(v) for k, v in m8.items()}])
            pairs = [(opt, a, b) for opt, a, b in zip(in_optimiser, jax.tree.leaves(one), jax.tree.leaves(rep))
                     if jnp.issubdtype(a.dtype, jnp.floating)]
            gap = lambda moments: max(float(jnp.max(jnp.abs(a - b))) for opt, a, b in pairs if opt == moments)
            largest_moment = max(float(jnp.max(jnp.abs(a))) for opt, a, b in pairs if opt)
            param_diff = max(param_diff, gap(False))
            moment_diff = max(moment_diff, gap(True) / largest_moment)  # relative to the largest moment
        leaf = jax.tree.leaves(rep)[0]
        out[name] = {"devices": many.devices, "losses": losses, "param_diff": param_diff, "adam_bound": 2 * lr + 1e-6,
                     "moment_rel_diff": moment_diff, "state_devices": len(leaf.sharding.device_set)}

    from faceobf.train.fac import create_train_state, make_train_step
    graphdef, state = create_train_state(profile.fac_model, profile.fac)
    images = rng.integers(0, 256, (2, 16, 96, 96, 3), dtype=np.uint8)
    labels = rng.integers(0, 2, (2, 16, 40)).astype(np.int8)
    compare("fac", make_train_step(graphdef), state, [(images[k], labels[k]) for k in range(2)], profile.fac.learning_rate)

    from faceobf.reconstruct.planes import onehot_table
    from faceobf.train.recon import create_recon_state, make_train_step as recon_step
    cfg = profile.recon
    g_def, g_state, d_def, d_state = create_recon_state(profile.unet, profile.patchgan, cfg)
    r = cfg.resolution
    yy, xx = np.mgrid[:r, :r]
    mask = (((yy - r / 2) / (0.35 * r)) ** 2 + ((xx - r / 2) / (0.28 * r)) ** 2 <= 1).astype(np.uint8)
    batches = [(rng.integers(0, 256, (8, r, r, 3), dtype=np.uint8),
                rng.uniform(0.25 * r, 0.75 * r, (8, 68, 2)).astype(np.float32),
                np.repeat(mask[None], 8, axis=0), rng.integers(0, 2, (8, 40)).astype(np.int8)) for _ in range(2)]
    coefficients = rng.normal(0, 0.01, (40, 68, 2)).astype(np.float32)  # a landmark mapping: the ci recipe's edits follow it
    compare("recon", recon_step(g_def, d_def, cfg, jnp.asarray(onehot_table()), coefficients), (g_state, d_state), batches,
            max(cfg.lr_g, cfg.lr_d))

    # the loop end to end: batches split by iterate_batches, the state replicated by fit
    graphdef, state = create_train_state(profile.fac_model, profile.fac)
    x = rng.integers(0, 256, (32, 96, 96, 3), dtype=np.uint8)
    y = rng.integers(0, 2, (32, 40)).astype(np.int8)
    many = DataParallel.over(16)
    histories = []
    for parallel in (None, many):
        sharding = None if parallel is None else parallel.batch
        final, history, _ = fit(copy(state), make_train_step(graphdef),
                                lambda e: iterate_batches((x, y), 16, epoch=e, sharding=sharding), 1,
                                progress=False, log=lambda s: None, parallel=parallel)
        histories.append(history["train_loss"][0])
    out["fit"] = {"losses": histories, "state_devices": len(jax.tree.leaves(final)[0].sharding.device_set)}
    print("RESULT" + json.dumps(out))
""")


@pytest.fixture(scope="module")
def eight_devices() -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=1800,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


@pytest.mark.parametrize("model", ["fac", "recon"])
def test_sharded_steps_match_one_device(eight_devices: dict, model: str) -> None:
    r = eight_devices[model]
    assert r["devices"] == 8 and r["state_devices"] == 8  # batch split over 8, parameters replicated on all 8
    for one, many in r["losses"]:
        assert one.keys() == many.keys()
        for key in one:
            assert many[key] == pytest.approx(one[key], rel=1e-4, abs=1e-5), key
    # Adam moves a parameter by about its learning rate per step whatever the gradient's size, so where a gradient is
    # near zero its sign can differ with the reduction order: one step's parameters agree to 2 x lr (plus the float32
    # rounding of a parameter near 1, 1e-6), not to float error; a flipped sign puts them exactly that far apart
    assert r["param_diff"] <= r["adam_bound"]
    # Adam's moment estimates are running averages of the gradients: one step's agree to the rounding of a reduction
    # split over 8 devices, which normalisation layers amplify where they cancel the mean (under 0.5% of the largest
    # here); a gradient summed over the devices instead of averaged would put them 8x apart
    assert r["moment_rel_diff"] <= 0.01


def test_the_loop_trains_data_parallel_with_the_same_loss(eight_devices: dict) -> None:
    one, many = eight_devices["fit"]["losses"]
    assert many == pytest.approx(one, rel=1e-4) and eight_devices["fit"]["state_devices"] == 8


def test_one_device_or_an_indivisible_batch_changes_nothing() -> None:
    from faceobf.train.parallel import DataParallel

    assert DataParallel.over(16, jax.local_devices()[:1]) is None
    devices = jax.local_devices() * 3  # three handles to test the choice, not to run on
    assert DataParallel.over(7, devices) is None  # 7 rows cannot be split over 2 or 3 devices
    assert DataParallel.over(16, devices).devices == 2  # the most devices that divide the batch


def test_the_gpu_profile_batches_scale_with_the_device_count() -> None:
    from faceobf.profiles import PROFILES, get_profile, scaled_to_devices

    gpu = PROFILES["gpu"]
    eight = scaled_to_devices(gpu, 8)
    assert (eight.fac.batch_size, eight.recon.batch_size) == (8 * gpu.fac.batch_size, 8 * gpu.recon.batch_size)
    assert eight.evaluation.recogniser.batch_size == 8 * gpu.evaluation.recogniser.batch_size
    assert scaled_to_devices(gpu, 1) == gpu and eight.recon.epochs == gpu.recon.epochs
    assert get_profile("cpu") == PROFILES["cpu"]  # the cpu and ci profiles keep their batches (the shipped models' config)
    assert get_profile("gpu") == scaled_to_devices(gpu, jax.device_count())
