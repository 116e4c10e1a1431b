"""Training on several worker processes (engine.parallel): learning, steering, failures.

Every run here uses small synthetic data and real spawned processes. Calls that could hang if
the plumbing broke run on a helper thread with a deadline (`bounded`), and after each test a
fixture checks that no worker process is left behind, through multiprocessing and /proc.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_cli import TRAIN_ARGUMENTS, pattern_data, run_engine  # noqa: F401 (a fixture)
from test_train import pattern_dataset

from engine.fast import WIDE_LANE_BITS, Changes, FastNetwork, sparse_image
from engine.lanes import LaneOverflow
from engine.mnist import Dataset
from engine.modelfile import load_model
from engine.network import Network
from engine.parallel import (
    SHARED_MEMORY_FOLDER,
    ChangeBoard,
    WorkerError,
    check_shared_memory,
    decode_changes,
    encode_changes,
    largest_changes,
    shares,
)
from engine.train import (
    BatchEnd,
    DivergenceRecovered,
    EpochEnd,
    Paused,
    TrainConfig,
    TrainingControl,
    train,
)

RUN_SECONDS = 60.0
GONE_SECONDS = 5.0
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def bounded(work: Callable[[], object], seconds: float = RUN_SECONDS) -> object:
    """Return work()'s result, run on a daemon thread; fail if it takes longer than seconds."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: the run hung"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def child_pids(parent: int) -> set[int]:
    """Return the ids of the live child processes of `parent` (read from /proc).

    multiprocessing's resource tracker is left out: spawning starts one per process, which
    lives as long as that process and ends with it; it is no training worker.
    """
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # ended while we looked
        # The command name, in parentheses, may hold spaces: fields start after the last ")".
        state, parent_id = stat.rsplit(")", 1)[1].split()[:2]
        tracker = b"resource_tracker" in command
        if int(parent_id) == parent and state != "Z" and not tracker:
            children.add(int(entry.name))
    return children


def alive(pid: int) -> bool:
    """Return True while a process with this id exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def shared_blocks() -> set[str]:
    """Return the names of the shared memory blocks multiprocessing made (Linux: /dev/shm)."""
    folder = Path("/dev/shm")
    return {path.name for path in folder.glob("psm_*")} if folder.is_dir() else set()


@pytest.fixture(autouse=True)
def no_worker_left_behind() -> Iterator[None]:
    """Fail a test that leaves a child process it started, by multiprocessing or by /proc, or
    a block of shared memory.

    Children that were there before the test (the Xvfb of the GUI tests) do not count.
    """
    before = child_pids(os.getpid()) if Path("/proc/self").exists() else set()
    blocks_before = shared_blocks()
    yield
    assert multiprocessing.active_children() == []
    if Path("/proc/self").exists():
        assert child_pids(os.getpid()) - before == set()
    assert shared_blocks() - blocks_before == set(), "the board's shared memory was left"


def patterns_run(workers: int, control: TrainingControl | None = None, **settings) -> tuple:
    """Train 784-16-10 on the pattern images with `workers`; return (result, events)."""
    events: list = []
    config = TrainConfig(**{"epochs": 2, "batch_size": 10, "workers": workers, **settings})
    result = bounded(
        lambda: train(
            Network.create([784, 16, 10], "relu", seed=0),
            pattern_dataset(301, seed=1),
            pattern_dataset(100, seed=2),
            config,
            on_event=events.append,
            control=control,
        )
    )
    return result, events


# ----- learning and reproducing ------------------------------------------------------------------


@pytest.mark.parametrize("workers", [2, 3])
def test_several_workers_learn_and_report_for_the_whole_team(workers):
    result, events = patterns_run(workers)

    assert result.reason == "finished"
    assert result.test_accuracy >= 0.95
    batches = [e for e in events if isinstance(e, BatchEnd)]
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    share = math.ceil(301 / workers)
    assert len(batches) == 2 * math.ceil(share / 10)  # the hub reports its own batches
    assert batches[-1].samples_seen == batches[-1].total_samples == 2 * share * workers
    assert len(epochs) == 2 and epochs[-1].test_accuracy == result.test_accuracy
    assert epochs[-1].train_accuracy > 0.9
    assert result.network.metadata["train_images"] == 301
    assert result.network.metadata["workers"] == workers
    # Skipped backward passes are counted over the whole team, not just the hub's.
    hub_skipped = sum(e.skipped for e in batches)
    assert result.skipped_samples == sum(e.skipped_samples for e in epochs) > hub_skipped > 0


def test_a_team_run_is_reproducible_for_a_seed():
    first, _ = patterns_run(2, epochs=1, seed=5)
    second, _ = patterns_run(2, epochs=1, seed=5)
    assert first.network.weights == second.network.weights
    assert first.network.biases == second.network.biases


def test_one_worker_is_the_single_process_path_bit_for_bit(pattern_data, tmp_path):  # noqa: F811
    models = []
    one_worker = ["--workers", "1"]
    for name, extra in (("default", []), ("one", one_worker), ("again", one_worker)):
        model = tmp_path / f"{name}.json"
        arguments = ["--arch", "784-8-10", "--epochs", "1", "--seed", "4", "--out", str(model)]
        run_engine("train", "--data", str(pattern_data), *arguments, *extra)
        models.append(load_model(model))
    assert models[0].weights == models[1].weights == models[2].weights
    assert models[0].biases == models[1].biases == models[2].biases


def test_two_workers_from_the_command_line(pattern_data, tmp_path):  # noqa: F811
    model = tmp_path / "two.json"
    arguments = [*TRAIN_ARGUMENTS, "--workers", "2", "--json", "--out", str(model)]
    completed = run_engine("train", "--data", str(pattern_data), *arguments)
    figures = json.loads(completed.stdout)
    assert figures["workers"] == 2 and figures["reason"] == "finished"
    assert figures["test_accuracy"] >= 0.9
    assert load_model(model).metadata["workers"] == 2


def trained_copies(network: Network, batches: list[list[tuple[bytes, int]]]) -> list[FastNetwork]:
    """Return one copy of network per batch, each after one plain SGD step on its batch."""
    copies = []
    for seed, batch in enumerate(batches):
        copy = FastNetwork(network, seed=seed)
        copy.train_batch([(sparse_image(pixels), label) for pixels, label in batch], 0.5)
        copies.append(copy)
    return copies


def inked_images(count: int, seed: int, pixels: range) -> list[tuple[bytes, int]]:
    """Return (image, label) pairs inked at 30 random pixels of `pixels` each."""
    rng = random.Random(seed)
    images = []
    for _ in range(count):
        image = bytearray(784)
        for pixel in rng.sample(pixels, 30):
            image[pixel] = rng.choice([90, 180, 255])
        images.append((bytes(image), rng.randrange(10)))
    return images


def test_merging_two_copies_adds_both_changes_to_where_they_met():
    network = Network.create([784, 12, 10], "relu", seed=1)
    first, second = trained_copies(
        network, [inked_images(8, 2, range(784)), inked_images(8, 3, range(784))]
    )
    met = FastNetwork(network)
    expected_rows = [
        [a + b - m for a, b, m in zip(layer_a.rows, layer_b.rows, layer_met.rows)]
        for layer_a, layer_b, layer_met in zip(first.layers, second.layers, met.layers)
    ]
    expected_weights = [
        [[a + b - m for a, b, m in zip(ra, rb, rm)] for ra, rb, rm in zip(la, lb, lm)]
        for la, lb, lm in zip(
            first.to_network().weights, second.to_network().weights, network.weights
        )
    ]
    expected_bias = first.layers[1].biases[0] + second.layers[1].biases[0] - network.biases[1][0]
    states = [first.changes(), second.changes()]
    first.merge(states)
    second.merge(states)

    assert [layer.rows for layer in first.layers] == expected_rows, "exact, lane by lane"
    assert [layer.rows for layer in second.layers] == expected_rows
    assert first.layers[1].biases == second.layers[1].biases
    assert first.layers[1].biases[0] == pytest.approx(expected_bias)
    merged = first.to_network().weights
    worst = max(
        abs(w - e)
        for layer, layer_expected in zip(merged, expected_weights)
        for row, row_expected in zip(layer, layer_expected)
        for w, e in zip(row, row_expected)
    )
    assert worst <= 3 * 2.0**-14  # a unit of the first layer's 14 fractional bits per copy
    assert max_moved(network, first) > 100 * 2.0**-14, "the copies really moved"
    image = sparse_image(bytes(random.Random(3).randrange(256) for _ in range(784)))
    assert first.predict_sparse(image) == second.predict_sparse(image)


def test_a_copy_that_trained_after_listing_its_changes_merges_what_it_listed():
    network = Network.create([784, 12, 10], "relu", seed=1)
    first, second = trained_copies(
        network, [inked_images(8, 2, range(784)), inked_images(8, 3, range(784))]
    )
    states = [first.changes(), second.changes()]
    first.train_batch([(sparse_image(p), y) for p, y in inked_images(8, 4, range(784))], 0.5)
    for copy in (first, second):
        copy.merge(states)
    assert [layer.rows for layer in first.layers] == [layer.rows for layer in second.layers]


def max_moved(network: Network, fast: FastNetwork) -> float:
    """Return the largest distance between a weight of network and of fast."""
    return max(
        abs(a - b)
        for layer_a, layer_b in zip(network.weights, fast.to_network().weights)
        for row_a, row_b in zip(layer_a, layer_b)
        for a, b in zip(row_a, row_b)
    )


def test_only_the_rows_a_copy_changed_are_sent_and_merged():
    network = Network.create([784, 12, 10], "relu", seed=4)
    # The first copy inks only the top half of the frame, the second only the bottom half.
    top, bottom = trained_copies(
        network, [inked_images(8, 5, range(0, 392)), inked_images(8, 6, range(392, 784))]
    )
    top_changes, bottom_changes = top.changes(), bottom.changes()
    top_rows, bottom_rows = top_changes.layers[0][0], bottom_changes.layers[0][0]
    assert top_rows and max(top_rows) < 392 and bottom_rows and min(bottom_rows) >= 392
    assert top_changes.layers[0][1] == [top.layers[0].rows[i] for i in top_rows]
    untouched = set(range(784)) - set(top_rows) - set(bottom_rows)
    assert untouched, "some pixels were inked in neither half"
    before = FastNetwork(network).layers[0].rows

    top_moved = {i: top.layers[0].rows[i] for i in top_rows}
    bottom_moved = {i: bottom.layers[0].rows[i] for i in bottom_rows}
    for copy in (top, bottom):
        copy.merge([top_changes, bottom_changes])

    assert top.layers[0].rows == bottom.layers[0].rows
    rows = top.layers[0].rows
    assert all(rows[i] == before[i] for i in untouched), "rows nobody changed stay as met"
    assert all(rows[i] == top_moved[i] for i in top_rows), "a row one copy moved is its row"
    assert all(rows[i] == bottom_moved[i] for i in bottom_rows)
    assert top.changes().layers[0][0] == [] and top.changes().layers[1][0] == [], (
        "the merge is the new meeting"
    )


def test_a_copy_rebuilt_after_a_divergence_still_meets_its_team_exactly():
    network = Network.create([784, 12, 10], "relu", seed=8)
    first, second = trained_copies(
        network, [inked_images(8, 9, range(784)), inked_images(8, 10, range(784))]
    )
    states = [first.changes(), second.changes()]
    for copy in (first, second):
        copy.merge(states)
    first.train_batch([(sparse_image(p), y) for p, y in inked_images(8, 11, range(392))], 0.5)
    # The second copy diverged: it goes back to its last checkpoint, a network of its own.
    rebuilt = FastNetwork(network, seed=12)
    rebuilt.continue_meetings_of(second)
    assert len(rebuilt.changes().layers[0][0]) == 784, "every row of a rebuilt copy is new"

    checkpoint_rows = [list(layer.rows) for layer in rebuilt.layers]
    states = [first.changes(), rebuilt.changes()]
    for copy in (first, rebuilt):
        copy.merge(states)

    assert first.to_network().weights == rebuilt.to_network().weights
    assert [layer.rows for layer in first.layers] == checkpoint_rows, "the team goes back"
    # Both copies diverge and go back to the same checkpoint: they land on it, not twice as far.
    first.train_batch([(sparse_image(p), y) for p, y in inked_images(8, 13, range(784))], 0.5)
    again = [FastNetwork(network, seed=seed) for seed in (14, 15)]
    for copy, old in zip(again, (first, rebuilt)):
        copy.continue_meetings_of(old)
    states = [copy.changes() for copy in again]
    for copy in again:
        copy.merge(states)
    assert [layer.rows for layer in again[0].layers] == checkpoint_rows
    assert [layer.rows for layer in again[1].layers] == checkpoint_rows


def test_a_state_that_does_not_fit_is_refused():
    network = Network.create([784, 12, 10], "relu", seed=5)
    fast = FastNetwork(network)
    good = fast.changes()
    wrong_layers = FastNetwork(Network.create([784, 12, 12, 10], "relu", seed=5)).changes()
    first, second = good.layers
    out_of_range = Changes([([784], [0], *first[2:]), second], restarted=False)
    unsorted = Changes([([5, 3], [0, 0], *first[2:]), second], restarted=False)
    for state in (wrong_layers, out_of_range, unsorted):
        with pytest.raises(ValueError, match="does not"):
            fast.merge([good, state])


def test_the_board_passes_changes_between_processes_and_refuses_impossible_lengths():
    board = ChangeBoard.create(2, largest=100)
    try:
        other = ChangeBoard.attach(board.names(), board.slot_bytes)
        board.write(1, 0, b"meeting 0")
        board.write(1, 1, b"meeting 1")
        assert other.read(1, 0) == b"meeting 0" and other.read(1, 1) == b"meeting 1"
        board.write(1, 2, b"meeting 2")  # two slots, used in turn
        assert other.read(1, 2) == b"meeting 2" and other.read(1, 1) == b"meeting 1"
        with pytest.raises(ValueError, match="do not fit"):
            board.write(0, 0, bytes(101))
        board.blocks[0].buf[:8] = (10**6).to_bytes(8, "little")  # a corrupt length
        with pytest.raises(ValueError, match="more than it holds"):
            other.read(0, 0)
        other.close()
    finally:
        board.close()


def test_the_board_holds_the_largest_changes_of_any_network():
    for sizes in ([784, 16, 10], [784, 32, 16, 10]):
        fast = FastNetwork(Network.create(sizes, "relu", seed=2), first_lane_bits=WIDE_LANE_BITS)
        rebuilt = FastNetwork(Network.create(sizes, "relu", seed=3))
        rebuilt.continue_meetings_of(fast)  # every row changed
        rebuilt._widen_first_layer()
        assert len(encode_changes(rebuilt.changes())) == largest_changes(sizes)


def test_shares_are_equal_and_cover_every_image():
    dataset = Dataset([bytes([i]) * 784 for i in range(7)], list(range(7)))
    parts = shares(dataset, 3)
    assert [len(part) for part in parts] == [3, 3, 3]
    assert set().union(*(part.labels for part in parts)) == set(range(7))


# ----- steering ----------------------------------------------------------------------------------


def test_stop_ends_the_run_and_every_worker():
    control = TrainingControl()

    def stop_at_batch_three(event):
        if isinstance(event, BatchEnd) and event.batch == 3:
            control.stop()

    events: list = []
    result = bounded(
        lambda: train(
            Network.create([784, 16, 10], "relu", seed=0),
            pattern_dataset(400, seed=1),
            None,
            TrainConfig(epochs=50, batch_size=10, workers=2),
            on_event=lambda event: (events.append(event), stop_at_batch_three(event)),
            control=control,
        )
    )
    assert result.reason == "stopped"
    assert len([e for e in events if isinstance(e, BatchEnd)]) == 3


def test_pause_and_a_new_learning_rate_reach_the_team():
    control = TrainingControl()
    times, rates = [], []

    def on_event(event):
        if isinstance(event, BatchEnd):
            times.append(time.monotonic())
            rates.append(event.learning_rate)
            if event.batch == 2:
                control.pause()
                control.set_learning_rate(0.02)
                threading.Timer(0.5, control.resume).start()

    result = bounded(
        lambda: train(
            Network.create([784, 8, 10], "relu", seed=0),
            pattern_dataset(200, seed=1),
            None,
            TrainConfig(epochs=1, batch_size=10, schedule="constant", workers=2),
            on_event=on_event,
            control=control,
        )
    )
    assert result.reason == "finished"
    assert times[2] - times[1] >= 0.45
    default = TrainConfig().learning_rate
    assert rates[:2] == [default, default] and set(rates[2:]) == {0.02}


def test_divergence_in_a_team_keeps_finite_weights():
    result, _ = patterns_run(2, epochs=3, learning_rate=1e5, schedule="constant")
    assert result.reason == "diverged"
    assert "smaller learning rate" in result.message
    values = [w for layer in result.network.weights for row in layer for w in row]
    assert all(math.isfinite(v) and abs(v) < 10 for v in values)


def test_a_team_at_learning_rate_10_recovers_and_learns():
    events: list = []
    control = TrainingControl()
    result = bounded(
        lambda: train(
            Network.create([784, 32, 10], "relu", seed=0),
            pattern_dataset(600, seed=1),
            pattern_dataset(150, seed=2),
            TrainConfig(
                epochs=3,
                batch_size=10,
                learning_rate=10.0,
                schedule="constant",
                workers=2,
                momentum=0.9,  # plain SGD at 10 kills the units instead (see test_train)
            ),
            on_event=events.append,
            control=control,
        )
    )
    recoveries = [e for e in events if isinstance(e, DivergenceRecovered)]
    assert result.reason == "finished"
    assert result.test_accuracy > 0.9  # chance is 1/3
    assert recoveries, "a recovery in any worker is reported by the hub"
    batches = [(e.epoch, e.batch) for e in recoveries]
    assert len(set(batches)) == len(batches), "workers that diverged together: one recovery"
    # ... and counted in the team's result, whichever worker recovered.
    assert result.divergences == len(recoveries)
    assert result.network.metadata["divergences"] == len(recoveries)
    assert f"recovering from {len(recoveries)} divergence" in result.message
    lowest = min(e.learning_rate for e in recoveries)
    assert control.learning_rate(10.0) <= lowest < 10.0
    assert [e for e in events if isinstance(e, BatchEnd)][-1].learning_rate <= lowest


def test_one_more_epoch_at_the_end_of_a_paused_team_run():
    control = TrainingControl()
    events: queue.Queue = queue.Queue()
    finished: dict = {}

    def run() -> None:
        finished["result"] = train(
            Network.create([784, 8, 10], "relu", seed=0),
            pattern_dataset(100, seed=1),
            None,
            TrainConfig(epochs=2, batch_size=10, workers=2),
            events.put,
            control,
        )

    def next_paused() -> Paused:
        while not isinstance(event := events.get(timeout=RUN_SECONDS), Paused):
            pass
        return event

    control.pause()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    next_paused()
    control.step(10)  # the whole run (5 batches an epoch for each worker)
    at_end = next_paused()
    assert (at_end.epoch, at_end.samples_seen) == (3, 200)
    control.extend_epochs(1)  # "+1 epoch"
    control.resume()
    thread.join(RUN_SECONDS)
    assert not thread.is_alive()
    result = finished["result"]
    assert result.reason == "finished"
    assert [e.epochs for e in result.history] == [2, 2, 3]
    assert result.history[-1].train_accuracy > 0.9


# ----- failures ----------------------------------------------------------------------------------


def test_shared_memory_too_small_for_the_board_refuses_the_run_before_any_worker_starts(
    monkeypatch,
):
    """Linux would create the board anyway and kill a worker with SIGBUS mid-run."""
    free = 3 * 2**20

    def small_disk(folder):
        assert Path(folder) == SHARED_MEMORY_FOLDER
        return shutil._ntuple_diskusage(64 * 2**20, 64 * 2**20 - free, free)

    monkeypatch.setattr("engine.parallel.shutil.disk_usage", small_disk)
    started = []
    monkeypatch.setattr("engine.parallel.start_spokes", lambda count: started.append(count))
    # 784-1024-10: each of 2 workers needs two slots of about 3.2 MB.
    config = TrainConfig(epochs=1, batch_size=10, workers=2)
    with pytest.raises(WorkerError, match=r"not enough shared memory for 2 training workers"):
        train(
            Network.create([784, 1024, 10], "relu", seed=0),
            pattern_dataset(40, seed=1),
            None,
            config,
        )
    assert started == []
    # A small network's board fits in the same room.
    check_shared_memory(largest_changes([784, 16, 10]) * 4, 2)


def test_the_shared_memory_check_reads_the_folders_free_room(tmp_path):
    check_shared_memory(1, 2, tmp_path)
    with pytest.raises(WorkerError, match=f"{tmp_path} has"):
        check_shared_memory(2**62, 2, tmp_path)
    check_shared_memory(2**62, 2, tmp_path / "missing")  # no such folder: nothing to check


def test_a_killed_worker_ends_the_run_with_a_clear_error_and_no_orphan():
    killed: list[int] = []

    def kill_a_worker(event):
        if isinstance(event, BatchEnd) and event.batch == 3 and not killed:
            victim = multiprocessing.active_children()[0]
            killed.append(victim.pid)
            os.kill(victim.pid, signal.SIGKILL)

    with pytest.raises(WorkerError) as failure:
        bounded(
            lambda: train(
                Network.create([784, 16, 10], "relu", seed=0),
                pattern_dataset(400, seed=1),
                None,
                TrainConfig(epochs=50, batch_size=10, workers=3),
                on_event=kill_a_worker,
            )
        )
    message = str(failure.value)
    assert f"(pid {killed[0]})" in message
    assert "ended unexpectedly (killed by signal 9)" in message


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="reads process parents from /proc")
def test_workers_end_when_their_parent_is_killed(tmp_path):
    script = textwrap.dedent(
        f"""
        import multiprocessing, sys
        sys.path.insert(0, {str(PROJECT_ROOT / "tests")!r})
        from test_train import pattern_dataset
        from engine.network import Network
        from engine.train import BatchEnd, TrainConfig, train

        def report(event):
            if isinstance(event, BatchEnd) and event.batch == 2:
                pids = [process.pid for process in multiprocessing.active_children()]
                print(*pids, flush=True)

        if __name__ == "__main__":
            train(Network.create([784, 16, 10], "relu", seed=0), pattern_dataset(400, seed=1),
                  None, TrainConfig(epochs=1000, batch_size=10, workers=3), report)
        """
    )
    path = tmp_path / "parent.py"
    path.write_text(script)
    blocks_before = shared_blocks()
    parent = subprocess.Popen(
        [sys.executable, str(path)], stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT
    )
    try:
        line = bounded(parent.stdout.readline)
        workers = [int(pid) for pid in line.split()]
        assert len(workers) == 2 and all(alive(pid) for pid in workers)
        assert child_pids(parent.pid) == set(workers)
        parent.kill()
        parent.wait(GONE_SECONDS)
        deadline = time.monotonic() + GONE_SECONDS
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(pid) for pid in workers), "a worker outlived its killed parent"
        # The resource tracker removes the shared memory the killed hub could not.
        while shared_blocks() - blocks_before and time.monotonic() < deadline + GONE_SECONDS:
            time.sleep(0.05)
        assert shared_blocks() - blocks_before == set(), "the board outlived the run"
    finally:
        parent.kill()
        parent.stdout.close()


@pytest.mark.skipif(os.name == "nt", reason="sends SIGINT to a process group")
def test_ctrl_c_stops_a_team_cleanly(pattern_data, tmp_path):  # noqa: F811
    model = tmp_path / "stopped.json"
    arguments = ["--epochs", "500", "--arch", "784-8-10", "--workers", "2", "--json"]
    command = [sys.executable, "-m", "engine", "train", "--data", str(pattern_data)]
    process = subprocess.Popen(
        [*command, *arguments, "--out", str(model)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal would make it
    )
    try:
        for line in process.stderr:
            if line.startswith("epoch 1/500"):
                break
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl+C does: the whole group gets it
        output, errors = process.communicate(timeout=RUN_SECONDS)
    finally:
        process.kill()
    assert process.returncode == 0, errors
    assert json.loads(output)["reason"] == "stopped"
    assert "Traceback" not in errors


def test_a_workers_changes_cross_as_plain_bytes_and_come_back_exact():
    network = Network.create([784, 16, 16, 10], "relu", seed=3)
    (copy,) = trained_copies(network, [inked_images(8, 7, range(784))])
    state = copy.changes()
    assert any(row < 0 for _, rows, _, _ in state.layers for row in rows), "signed rows"
    assert 0 < len(state.layers[0][0]) < 784, "some rows, not all, changed"

    data = encode_changes(state)

    assert decode_changes(data) == state
    restarted = Changes(state.layers, restarted=True)
    assert decode_changes(encode_changes(restarted)) == restarted
    for cut in (2, len(data) // 2, len(data) - 3):
        with pytest.raises(ValueError, match="a worker's weights end inside"):
            decode_changes(data[:cut])
    for wrong_start in (b"", b"\x02" + data[1:]):
        with pytest.raises(ValueError, match="valid header"):
            decode_changes(wrong_start)


def test_a_row_whose_lanes_overflowed_is_refused_not_sent_cut():
    network = Network.create([784, 16, 10], "relu", seed=3)
    fast = FastNetwork(network)
    rows = fast.layers[1].rows
    # The top lane pushed a whole lane range up: the row no longer fits its 10 lanes.
    rows[0] += 1 << (10 * fast.layers[1].codec.bits)

    with pytest.raises(LaneOverflow, match="does not fit its lanes"):
        encode_changes(fast.changes())
