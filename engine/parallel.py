"""Training on several processes at once: local SGD whose copies meet and add up their changes.

`train_in_processes` (what `engine.train.train` calls when `TrainConfig.workers` is above 1)
splits the training images into one equal share per worker and runs the training loop of
`engine.train` in every worker on its share. The calling process is worker 0, the *hub*:
it emits the events, obeys the `TrainingControl` and returns the result. The others, the
*spokes*, are processes started with multiprocessing's "spawn" method (as on Windows and
macOS), so nothing is inherited: each receives its job over a pipe.

Every SYNC_EVERY_BATCHES batches, and at the end of each epoch, the workers meet. Each writes
the packed weight rows it changed since the last meeting (`FastNetwork.changes`: on sparse
digits about half of the first layer's rows are left alone) into its slot of a `ChangeBoard`
in shared memory, all at once, and reports to the hub over its pipe; the hub answers each
spoke with a command (go on, stop, diverged) and the settings in force, and then every worker
reads the others' changes from the board and adds them all to the point they last met at
(`FastNetwork.merge`: exact integer sums, so every copy ends identical and the next changes
are counted from there). Each worker steps at the learning rate, so every image moves the
weights as much as in one process. Between meetings the copies drift apart a little, which
costs little accuracy and saves most of the communication. At the end of an epoch they also
add up their training and test figures (each tests its share of the test set).

Stop and pause reach the spokes through the hub: a paused hub simply does not answer, and a
stop is the answer to the next meeting. A spoke that dies makes the hub raise `WorkerError`
(its pipe closes), and the hub ends the others. Spokes are daemon processes and also watch
their parent process, ending at once if it disappears, however it ended; the hub removes the
board's shared memory when the run ends (and multiprocessing's resource tracker does if the
hub itself was killed).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import struct
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path

from engine.fast import LANE_BITS, WIDE_LANE_BITS, Changes, FastNetwork, LayerChanges
from engine.lanes import LaneOverflow
from engine.mnist import IMAGE_BYTES, Dataset
from engine.network import Network
from engine.train import (
    DivergenceRecovered,
    Ending,
    EpochFigures,
    Team,
    TrainConfig,
    TrainingControl,
    TrainingEvent,
    TrainingResult,
    train,
)

# Two workers on MNIST's defaults, seeds 0-5: meeting every 3 batches reached 98.06% (median;
# 97.97-98.17) in 12.7-14.6 s, every 2 batches 98.03% (97.89-98.16) in 14.1-17.3 s; every 4
# lost a little (97.91-98.05%, three seeds).
SYNC_EVERY_BATCHES = 3
# Spokes shuffle and dither with seeds of their own, so that they do not all repeat the same
# rounding noise.
SPOKE_SEED_STRIDE = 7919
JOIN_SECONDS = 2.0
EXIT_PARENT_GONE = 3
START_METHOD = "spawn"

GO = "go"
STOP = "stop"
DIVERGED = "diverged"
# Encoded changes start with whether the copy restarted (0 or 1), then per layer: changed rows,
# bytes per row, lane width in bits, bias count.
CHANGES_HEADER = struct.Struct("<B")
LAYER_HEADER = struct.Struct("<IIII")
# Each worker's block of shared memory has two slots, used in turn from one meeting to the next;
# a slot starts with the length of the changes written in it.
SLOTS = 2
SLOT_LENGTH = struct.Struct("<Q")
# Where Linux keeps POSIX shared memory: a tmpfs, often small in containers (64 MB in Docker).
SHARED_MEMORY_FOLDER = Path("/dev/shm")


class WorkerError(RuntimeError):
    """Raised in the hub when a training worker process fails or ends unexpectedly."""


@dataclass(frozen=True)
class Job:
    """What a spoke needs to train: its place in the team, the settings and its shares of data.

    Images travel as one bytes object each (IMAGE_BYTES per image), which pickles far faster
    than a list of small ones.
    """

    worker: int
    workers: int
    board: tuple[str, ...]
    slot_bytes: int
    network: Network
    config: TrainConfig
    train_images: int
    images: bytes
    labels: bytes
    test_images: bytes
    test_labels: bytes


def exit_with_parent() -> None:
    """End this process as soon as its parent process ends (for a spawned worker).

    A daemon thread waits on the parent's sentinel, which becomes ready when the parent is
    gone, even if it was killed; the process then exits without cleaning up, as a worker has
    nothing worth saving.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(EXIT_PARENT_GONE)

    threading.Thread(target=watch, name="digits-parent-watch", daemon=True).start()


def shares(dataset: Dataset, workers: int) -> list[Dataset]:
    """Return `workers` shares of equal size that together hold every item of dataset.

    Share k holds items k, k + workers, …; shorter shares are topped up with items from the
    start of the dataset, so every worker runs the same number of batches.
    """
    size = math.ceil(len(dataset) / workers)
    result = []
    for worker in range(workers):
        indices = list(range(worker, len(dataset), workers))
        indices += range(size - len(indices))
        images = [dataset.images[i] for i in indices]
        result.append(Dataset(images, [dataset.labels[i] for i in indices]))
    return result


def test_shares(dataset: Dataset | None, workers: int) -> list[Dataset | None]:
    """Return each worker's part of the test set (items k, k + workers, …), or Nones."""
    if dataset is None:
        return [None] * workers
    return [
        Dataset(dataset.images[worker::workers], dataset.labels[worker::workers])
        for worker in range(workers)
    ]


def packed_dataset(dataset: Dataset | None) -> tuple[bytes, bytes]:
    """Return a dataset's images and labels as two bytes objects (empty for None)."""
    if dataset is None:
        return b"", b""
    return b"".join(dataset.images), bytes(dataset.labels)


def unpacked_dataset(images: bytes, labels: bytes) -> Dataset:
    """Return the dataset `packed_dataset` made the two bytes objects of."""
    return Dataset(
        [images[i * IMAGE_BYTES : (i + 1) * IMAGE_BYTES] for i in range(len(labels))],
        list(labels),
    )


def encode_changes(state: Changes) -> bytes:
    """Return a worker's changes (`FastNetwork.changes`) as bytes for the other workers.

    CHANGES_HEADER, then per layer: LAYER_HEADER, the changed rows' indices as uint32, then
    each changed packed row as a signed little-endian integer as wide as its lanes (a row
    whose lanes all fit is one), then the biases as float64. Plain bytes, read back by
    `decode_changes`. Raises LaneOverflow if a lane does not fit.
    """
    parts = [CHANGES_HEADER.pack(state.restarted)]
    for indices, rows, biases, bits in state.layers:
        width = len(biases) * bits // 8
        parts.append(LAYER_HEADER.pack(len(rows), width, bits, len(biases)))
        parts.append(struct.pack(f"<{len(indices)}I", *indices))
        try:
            parts.extend([row.to_bytes(width, "little", signed=True) for row in rows])
        except OverflowError:
            raise LaneOverflow("a packed row does not fit its lanes") from None
        parts.append(struct.pack(f"<{len(biases)}d", *biases))
    return b"".join(parts)


def decode_changes(data: bytes) -> Changes:
    """Return the changes `encode_changes` wrote; raise ValueError if data is not one."""
    if len(data) < CHANGES_HEADER.size or data[0] not in (0, 1):
        raise ValueError("a worker's weights do not start with a valid header")
    layers: list[LayerChanges] = []
    offset = CHANGES_HEADER.size
    while offset < len(data):
        if len(data) - offset < LAYER_HEADER.size:
            raise ValueError("a worker's weights end inside a layer header")
        count, width, bits, bias_count = LAYER_HEADER.unpack_from(data, offset)
        offset += LAYER_HEADER.size
        end = offset + count * (4 + width) + 8 * bias_count
        if end > len(data):
            raise ValueError("a worker's weights end inside a layer")
        indices = list(struct.unpack_from(f"<{count}I", data, offset))
        offset += 4 * count
        rows = [
            int.from_bytes(data[start : start + width], "little", signed=True)
            for start in range(offset, offset + count * width, width)
        ]
        biases = list(struct.unpack_from(f"<{bias_count}d", data, offset + count * width))
        layers.append((indices, rows, biases, bits))
        offset = end
    return Changes(layers, bool(data[0]))


def largest_changes(layer_sizes: Sequence[int]) -> int:
    """Return the most bytes `encode_changes` can write for a network of these layer sizes.

    That is every row changed, the first layer in wide lanes and the others in 64-bit ones.
    """
    total = CHANGES_HEADER.size
    for index, (inputs, outputs) in enumerate(zip(layer_sizes, layer_sizes[1:])):
        bits = WIDE_LANE_BITS if index == 0 else LANE_BITS
        total += LAYER_HEADER.size + inputs * (4 + outputs * bits // 8) + 8 * outputs
    return total


class ChangeBoard:
    """Shared memory through which the workers show each other their changes at meetings.

    One block per worker, of SLOTS slots used in turn from one meeting to the next. A worker
    writes its slot before it reports to the hub, and the others read it only once the hub has
    answered, after every report: so nobody reads a slot while it is written, and a worker
    writes a slot again only two meetings later, when everyone has read it. Passing the changes
    this way instead of through the pipes saves copying a few hundred kilobytes through the
    hub at every meeting, and every worker writes at once. The hub creates the blocks
    (`create`) and removes them (`close`); spokes `attach` to them by name.
    """

    def __init__(self, blocks: list[SharedMemory], slot_bytes: int, owner: bool) -> None:
        self.blocks = blocks
        self.slot_bytes = slot_bytes
        self._owner = owner

    @classmethod
    def create(cls, workers: int, largest: int) -> ChangeBoard:
        """Return a new board for `workers` workers whose changes take up to `largest` bytes.

        Raises WorkerError if the shared memory has no room for it (`check_shared_memory`).
        """
        slot_bytes = SLOT_LENGTH.size + largest
        check_shared_memory(workers * SLOTS * slot_bytes, workers)
        board = cls([], slot_bytes, owner=True)
        try:
            for _ in range(workers):
                board.blocks.append(SharedMemory(create=True, size=SLOTS * slot_bytes))
        except BaseException:
            board.close()
            raise
        return board

    @classmethod
    def attach(cls, names: Sequence[str], slot_bytes: int) -> ChangeBoard:
        """Return the board whose blocks `names` lists, made by `create` in another process."""
        board = cls([], slot_bytes, owner=False)
        try:
            for name in names:
                board.blocks.append(SharedMemory(name=name))
        except BaseException:
            board.close()
            raise
        return board

    def names(self) -> tuple[str, ...]:
        """Return the blocks' names, for `attach`."""
        return tuple(block.name for block in self.blocks)

    def write(self, worker: int, meeting: int, changes: bytes) -> None:
        """Put a worker's encoded changes for a meeting in its slot."""
        if SLOT_LENGTH.size + len(changes) > self.slot_bytes:
            raise ValueError(f"{len(changes)} bytes of changes do not fit a slot of the board")
        start = (meeting % SLOTS) * self.slot_bytes
        buffer = self.blocks[worker].buf
        SLOT_LENGTH.pack_into(buffer, start, len(changes))
        start += SLOT_LENGTH.size
        buffer[start : start + len(changes)] = changes

    def read(self, worker: int, meeting: int) -> bytes:
        """Return the changes a worker wrote for a meeting; raise ValueError if the length is
        impossible."""
        start = (meeting % SLOTS) * self.slot_bytes
        buffer = self.blocks[worker].buf
        (length,) = SLOT_LENGTH.unpack_from(buffer, start)
        if SLOT_LENGTH.size + length > self.slot_bytes:
            raise ValueError(f"a worker's slot claims {length} bytes, more than it holds")
        start += SLOT_LENGTH.size
        return bytes(buffer[start : start + length])

    def close(self) -> None:
        """Let go of every block; the board's creator also removes them."""
        for block in self.blocks:
            block.close()
            if self._owner:
                with contextlib.suppress(FileNotFoundError):
                    block.unlink()
        self.blocks = []


def check_shared_memory(needed: int, workers: int, folder: Path = SHARED_MEMORY_FOLDER) -> None:
    """Raise WorkerError unless the shared memory folder has `needed` bytes free (Linux).

    Linux creates a block of shared memory of any size without complaint and claims its pages
    only when they are written: a board larger than the room left would kill a worker with
    SIGBUS in the middle of a run. So the room is checked first; where there is no such
    folder (macOS, Windows) the system refuses an impossible block itself.
    """
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < needed:
        raise WorkerError(
            f"not enough shared memory for {workers} training workers: they need"
            f" {needed / 2**20:.1f} MB and {folder} has {free / 2**20:.1f} MB free;"
            " train with fewer workers, a smaller network, or free some shared memory"
        )


@dataclass(frozen=True)
class Settings:
    """What the hub's `TrainingControl` says now, which every spoke follows from the hub."""

    learning_rate: float
    momentum: float
    weight_decay: float
    extra_epochs: int

    @classmethod
    def of(cls, control: TrainingControl, config: TrainConfig) -> Settings:
        """Return the settings in force in control (config's where none was set)."""
        return cls(
            control.learning_rate(config.learning_rate),
            control.momentum(config.momentum),
            control.weight_decay(config.weight_decay),
            control.extra_epochs(),
        )

    def apply(self, control: TrainingControl) -> None:
        """Make control say the same."""
        control.set_learning_rate(self.learning_rate)
        control.set_momentum(self.momentum)
        control.set_weight_decay(self.weight_decay)
        more = self.extra_epochs - control.extra_epochs()
        if more > 0:
            control.extend_epochs(more)


class _Member(Team):
    """What hub and spokes share: when to meet, the board, the team's size."""

    def __init__(self, workers: int, board: ChangeBoard, train_images: int) -> None:
        self.workers = workers
        self.board = board
        self._train_images = train_images
        self._meetings = 0

    def train_images(self, share: int) -> int:
        """Return how many distinct images the whole team trains on."""
        return self._train_images

    @staticmethod
    def meeting_due(batch: int, batches_per_epoch: int) -> bool:
        """Return True after every SYNC_EVERY_BATCHES-th batch and the last of an epoch."""
        return batch % SYNC_EVERY_BATCHES == 0 or batch == batches_per_epoch

    def show(self, worker: int, fast: FastNetwork) -> Changes:
        """Write this worker's changes on the board for this meeting; return them."""
        own = fast.changes()
        self.board.write(worker, self._meetings, encode_changes(own))
        return own

    def merge(self, worker: int, fast: FastNetwork, own: Changes) -> None:
        """Merge every worker's changes for this meeting into fast; count the meeting."""
        states = [
            own if index == worker else decode_changes(self.board.read(index, self._meetings))
            for index in range(self.workers)
        ]
        fast.merge(states)
        self._meetings += 1


class Hub(_Member):
    """Worker 0: meets the spokes, relays their weights and decides for the whole team.

    Recoveries from divergence that spokes report are emitted as this worker's events, count
    in the run's result, and lower the team's learning rate as one of its own would. Copies
    that met are identical, so several often diverge at the same batch: the team recovered
    once there, and only the first report of it is emitted and counted (this worker's own
    events pass through `relay`, which notes its recoveries).
    """

    def __init__(
        self,
        connections: Sequence[Connection],
        processes: Sequence[BaseProcess],
        board: ChangeBoard,
        config: TrainConfig,
        emit: Callable[[TrainingEvent], None],
        train_images: int,
    ) -> None:
        super().__init__(len(connections) + 1, board, train_images)
        self.connections = list(connections)
        self.processes = list(processes)
        self.config = config
        self.emit = emit
        self.pids = [0] * len(connections)
        self._ended = [False] * len(connections)
        self._waiting = [False] * len(connections)
        self._control: TrainingControl | None = None
        self._recoveries: set[tuple[int, int]] = set()

    def relay(self, event: TrainingEvent) -> None:
        """Emit one of this worker's own events, noting the batches it recovered at."""
        if isinstance(event, DivergenceRecovered):
            self._recoveries.add((event.epoch, event.batch))
        self.emit(event)

    def start(self) -> None:
        """Wait until every spoke has converted its data."""
        for index in range(len(self.connections)):
            message = self._receive(index)
            if message[0] != "ready":
                raise WorkerError(f"training worker {index + 1} did not start: {message!r}")
            self.pids[index] = message[1]

    def start_epoch(self, control: TrainingControl) -> None:
        """Let the spokes waiting at the end of the last epoch go on, with today's settings."""
        self._control = control
        settings = Settings.of(control, self.config)
        for index in range(len(self.connections)):
            if self._waiting[index]:
                self._send(index, (GO, settings))
                self._waiting[index] = False

    def after_batch(
        self, fast: FastNetwork, batch: int, batches_per_epoch: int, control: TrainingControl
    ) -> Ending | None:
        """Meet the spokes when due: merge everyone's changes, pass on the settings."""
        if not self.meeting_due(batch, batches_per_epoch):
            return None
        own = self.show(0, fast)
        reports = self._gather()
        ending = self._ending(reports)
        if ending is not None:
            return ending
        settings = Settings.of(control, self.config)
        for index in range(len(self.connections)):
            self._send(index, (GO, settings))
            self._waiting[index] = False
        self.merge(0, fast, own)
        return None

    def end_epoch(self, figures: EpochFigures) -> EpochFigures | Ending:
        """Add up every worker's figures; the spokes wait until the next epoch starts."""
        reports = self._gather()
        ending = self._ending(reports)
        if ending is not None:
            return ending
        return sum_figures([figures, *(report[1] for report in reports)])

    def finish(self, reason: str, message: str) -> None:
        """Answer every spoke still at work with a stop."""
        for index in range(len(self.connections)):
            if self._ended[index]:
                continue
            if not self._waiting[index]:
                report = self._receive(index)
                if report[0] == "end":
                    self._ended[index] = True
                    continue
            self._send(index, (STOP, message))
            self._ended[index] = True

    def _gather(self) -> list[tuple]:
        """Receive one report from every spoke, in worker order; re-emit their recoveries."""
        reports = []
        for index in range(len(self.connections)):
            report = self._receive(index)
            self._ended[index] = report[0] == "end"
            self._waiting[index] = not self._ended[index]
            for event in report[-1]:
                self._recovered(event)
            reports.append(report)
        return reports

    def _recovered(self, event: DivergenceRecovered) -> None:
        """Count and report a spoke's recovery unless the team's recovery at that batch already
        was; make the team's learning rate as low as its own."""
        batch = (event.epoch, event.batch)
        if batch not in self._recoveries:
            self._recoveries.add(batch)
            self.divergences_elsewhere += 1
            self.emit(event)
        control = self._control
        if control is not None and event.learning_rate < control.learning_rate(
            self.config.learning_rate
        ):
            control.set_learning_rate(event.learning_rate)

    def _ending(self, reports: list[tuple]) -> Ending | None:
        """Return the team's ending when a spoke ended on its own (it diverged), else None.

        The other spokes are told to stop at once.
        """
        ended = [report for report in reports if report[0] == "end"]
        if not ended:
            return None
        _, reason, message, _ = ended[0]
        for index in range(len(self.connections)):
            if self._waiting[index]:
                self._send(index, (DIVERGED if reason == "diverged" else STOP, message))
                self._waiting[index] = False
                self._ended[index] = True
        return Ending(reason, message)

    def _send(self, index: int, message: tuple) -> None:
        """Send spoke `index` an answer; raise WorkerError if it died."""
        try:
            self.connections[index].send(message)
        except OSError:
            raise WorkerError(self._death(index)) from None

    def _receive(self, index: int) -> tuple:
        """Return the next message of spoke `index`; raise WorkerError if it failed or died."""
        connection, process = self.connections[index], self.processes[index]
        multiprocessing.connection.wait([connection, process.sentinel])
        try:
            message = connection.recv()
        except (EOFError, OSError):
            raise WorkerError(self._death(index)) from None
        if message[0] == "error":
            raise WorkerError(f"training worker {index + 1} failed: {message[1]}")
        return message

    def _death(self, index: int) -> str:
        """Return the words for a spoke that ended without saying why."""
        process = self.processes[index]
        pid = self.pids[index] or process.pid
        process.join(JOIN_SECONDS)
        code = process.exitcode
        how = ""
        if code is not None and code < 0:
            how = f" (killed by signal {-code})"
        elif code is not None:
            how = f" (exit code {code})"
        return (
            f"training worker {index + 1} of {self.workers} (pid {pid}) ended unexpectedly{how};"
            " the run was abandoned"
        )


def sum_figures(figures: Sequence[EpochFigures]) -> EpochFigures:
    """Return the field-by-field sum of several workers' epoch figures."""
    return EpochFigures(
        train_loss_sum=math.fsum(f.train_loss_sum for f in figures),
        train_correct=sum(f.train_correct for f in figures),
        train_seen=sum(f.train_seen for f in figures),
        test_loss_sum=math.fsum(f.test_loss_sum for f in figures),
        test_correct=sum(f.test_correct for f in figures),
        test_count=sum(f.test_count for f in figures),
        skipped=sum(f.skipped for f in figures),
    )


class Spoke(_Member):
    """Worker k > 0: trains its share and does what the hub answers at each meeting."""

    def __init__(self, connection: Connection, job: Job, board: ChangeBoard) -> None:
        super().__init__(job.workers, board, job.train_images)
        self.connection = connection
        self.worker = job.worker
        self._released = False
        self._recoveries: list[DivergenceRecovered] = []
        self.control = TrainingControl()

    def record(self, event: TrainingEvent) -> None:
        """Keep this worker's recoveries from divergence for the hub (its on_event)."""
        if isinstance(event, DivergenceRecovered):
            self._recoveries.append(event)

    def start(self) -> None:
        """Tell the hub this worker is ready."""
        self.connection.send(("ready", os.getpid()))

    def after_batch(
        self, fast: FastNetwork, batch: int, batches_per_epoch: int, control: TrainingControl
    ) -> Ending | None:
        """Meet the team when due: show this worker's changes, then merge everyone's."""
        if not self.meeting_due(batch, batches_per_epoch):
            return None
        own = self.show(self.worker, fast)
        self._send("sync")
        answer = self._answer()
        if answer[0] != GO:
            return self._ending(answer)
        answer[1].apply(control)
        self.merge(self.worker, fast, own)
        return None

    def end_epoch(self, figures: EpochFigures) -> EpochFigures | Ending:
        """Send this worker's figures; wait for the hub to start the next epoch or stop.

        The hub's settings (epochs added meanwhile included) then replace this worker's.
        """
        self._send("epoch", figures)
        answer = self._answer()
        if answer[0] != GO:
            return self._ending(answer)
        answer[1].apply(self.control)
        return figures

    def finish(self, reason: str, message: str) -> None:
        """Tell the hub when this worker ended on its own (it diverged)."""
        if not self._released:
            self._send("end", reason, message)

    def _send(self, kind: str, *content: object) -> None:
        """Send the hub a report, with the recoveries since the last one."""
        self.connection.send((kind, *content, self._recoveries))
        self._recoveries = []

    def _answer(self) -> tuple:
        """Return the hub's answer; exit quietly if the hub is gone."""
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            os._exit(EXIT_PARENT_GONE)

    def _ending(self, answer: tuple) -> Ending:
        """Return the ending the hub ordered."""
        self._released = True
        command, message = answer
        return Ending("diverged" if command == DIVERGED else "stopped", message)


def serve_as_spoke(connection: Connection) -> None:
    """Run one spoke: receive a Job from the hub, train, report any failure (process entry).

    Started with the "spawn" method, so this function and its module must import cleanly.
    """
    exit_with_parent()
    # Ctrl+C in a terminal reaches every process of the group: the hub alone decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        job = connection.recv()
    except (EOFError, OSError):
        return
    try:
        board = ChangeBoard.attach(job.board, job.slot_bytes)
    except (OSError, ValueError) as error:
        with contextlib.suppress(OSError):
            connection.send(("error", f"cannot open the shared board: {error}", ""))
        return
    try:
        spoke = Spoke(connection, job, board)
        train(
            job.network,
            unpacked_dataset(job.images, job.labels),
            unpacked_dataset(job.test_images, job.test_labels) if job.test_labels else None,
            job.config,
            spoke.record,
            spoke.control,
            team=spoke,
        )
    except Exception as error:
        summary = f"{type(error).__name__}: {error}"
        with contextlib.suppress(OSError):  # a hub that is gone needs no telling
            connection.send(("error", summary, traceback.format_exc()))
    finally:
        board.close()


def start_spokes(count: int) -> tuple[list[Connection], list[BaseProcess]]:
    """Start `count` spoke processes; return the hub's ends of their pipes and the processes."""
    context = multiprocessing.get_context(START_METHOD)
    connections, processes = [], []
    try:
        for index in range(count):
            hub_end, spoke_end = context.Pipe()
            process = context.Process(
                target=serve_as_spoke,
                args=(spoke_end,),
                name=f"digits-training-worker-{index + 1}",
                daemon=True,
            )
            process.start()
            spoke_end.close()  # so that the hub sees end-of-file if the spoke dies
            connections.append(hub_end)
            processes.append(process)
    except BaseException:
        end_processes(processes)
        raise
    return connections, processes


def end_processes(processes: Sequence[BaseProcess]) -> None:
    """Wait briefly for processes to end, then terminate (and finally kill) the rest."""
    for process in processes:
        process.join(JOIN_SECONDS)
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join(JOIN_SECONDS)
        if process.is_alive():
            process.kill()
            process.join(JOIN_SECONDS)


def train_in_processes(
    network: Network,
    train_set: Dataset,
    test_set: Dataset | None,
    config: TrainConfig,
    on_event: Callable[[TrainingEvent], None] | None = None,
    control: TrainingControl | None = None,
    statistics_seconds: float | None = None,
) -> TrainingResult:
    """Train like `engine.train.train` on `config.workers` processes; this one is worker 0.

    Statistics (`statistics_seconds`) are measured on this worker's copy of the network.
    Raises WorkerError if a worker fails or dies; every spoke has ended when it returns, and
    the shared memory of the board is gone.
    """
    workers = config.workers
    if config.limit is not None:
        train_set = train_set.subset(config.limit)
    if len(train_set) == 0:
        raise ValueError("the training set is empty")
    train_shares = shares(train_set, workers)
    test_parts = test_shares(test_set, workers)
    shared = replace(config, limit=None)
    board = ChangeBoard.create(workers, largest_changes(network.layer_sizes))
    processes: list[BaseProcess] = []
    connections: list[Connection] = []
    try:
        connections, processes = start_spokes(workers - 1)
        for worker, connection in enumerate(connections, start=1):
            images, labels = packed_dataset(train_shares[worker])
            test_images, test_labels = packed_dataset(test_parts[worker])
            seed = config.seed + SPOKE_SEED_STRIDE * worker
            job = Job(
                worker=worker,
                workers=workers,
                board=board.names(),
                slot_bytes=board.slot_bytes,
                network=network,
                config=replace(shared, seed=seed),
                train_images=len(train_set),
                images=images,
                labels=labels,
                test_images=test_images,
                test_labels=test_labels,
            )
            try:
                connection.send(job)
            except OSError:
                raise WorkerError(
                    f"training worker {worker} ended before it was given work"
                ) from None
        emit = on_event or (lambda event: None)
        hub = Hub(connections, processes, board, shared, emit, len(train_set))
        result = train(
            network,
            train_shares[0],
            test_parts[0],
            shared,
            hub.relay,
            control,
            statistics_seconds,
            team=hub,
        )
    except BaseException:
        for process in processes:
            process.terminate()
        raise
    finally:
        end_processes(processes)
        for connection in connections:
            connection.close()
        board.close()
    result.network.metadata["workers"] = workers
    return result
