"""The Train tab's training process: runs train in a child process, never in the Tk process.

Parent side: `TrainingService` starts one child process with multiprocessing's "spawn" method
(as on Windows and macOS: nothing is inherited, and this module imports no Tk) the first time
a run starts, and keeps it between runs, so that the MNIST it read stays loaded (reading the
60,000 training images takes about 0.7 s). `TrainingService.start(job)` hands the child a
`TrainingJob` and returns a `TrainingRun`, which the tab polls like a queue (`get_nowait`) and
steers through `TrainingRun.control`, a `RunControl` with the method names and meanings of
`engine.train.TrainingControl`. With `TrainConfig.workers` above 1 the child is the hub of
`engine.parallel` and starts the other workers itself.

Child side (`serve`, the process's entry): the main thread runs one job after another
(`app.training_worker.run_training`); a command thread reads the command pipe and applies each
command to the current run's `TrainingControl`; an `Outbox` thread sends the run's messages,
so a parent slow to read never stalls training. The child ends when told to quit, when the
command pipe closes, or when the parent process disappears however it ended.

In the parent, a reader thread receives the child's messages into a queue the tab polls, so
the Tk thread never waits for a message to cross the pipe (the end of a run carries the 10,000
test images, about 8 MB: 20–40 ms on this machine). It waits in the pipe read, not holding the
interpreter lock. Pipes, not `multiprocessing.Queue`: the parent closes its copies of the
child's ends, so a child that dies, even in the middle of a message, shows up as end-of-file,
never as a read that waits forever; the run then reports a `Failed` saying how it ended.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from app.heatmap import HeatmapGeometry
from app.training_worker import (
    DataFailed,
    Failed,
    Finished,
    Message,
    MnistCache,
    TrainingJob,
    run_training,
)
from engine.parallel import EXIT_PARENT_GONE, START_METHOD, exit_with_parent
from engine.train import (
    TrainingControl,
    check_learning_rate,
    check_momentum,
    check_weight_decay,
)

PROCESS_NAME = "digits-training"
# Closing the window: the child is asked to quit, then terminated, then killed, each after
# this long; it usually quits within one batch.
QUIT_SECONDS = 0.3
END_SECONDS = 0.3
# What may arrive over the command pipe: ("run", job), ("control", method, arguments),
# ("geometry", HeatmapGeometry) and ("quit",).
CONTROL_METHODS = (
    "stop",
    "pause",
    "resume",
    "step",
    "extend_epochs",
    "set_learning_rate",
    "set_momentum",
    "set_weight_decay",
)
ENDING_MESSAGES = (Finished, Failed, DataFailed)


# ----- the child process -------------------------------------------------------------------------


class Outbox:
    """Send messages to the parent from a thread of their own, in the order posted."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._pending: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._send_all, name="digits-outbox", daemon=True)
        self._thread.start()

    def post(self, message: Message) -> None:
        """Queue a message for the parent."""
        self._pending.put(message)

    def close(self) -> None:
        """Send what is queued, then stop the thread."""
        self._pending.put(None)
        self._thread.join()

    def _send_all(self) -> None:
        while (message := self._pending.get()) is not None:
            try:
                self.connection.send(message)
            except OSError:
                os._exit(EXIT_PARENT_GONE)  # nobody is listening any more


@dataclass
class ChildRun:
    """One job in the child, with what steers it."""

    job: TrainingJob
    control: TrainingControl = field(default_factory=TrainingControl)
    abandoned: threading.Event = field(default_factory=threading.Event)
    geometry: HeatmapGeometry | None = None  # where heatmaps are shown now, if not the job's

    def current_geometry(self) -> HeatmapGeometry:
        """Return where the run's heatmaps are shown now."""
        return self.geometry or self.job.geometry

    def abandon(self) -> None:
        """End the run as soon as possible, with no more messages."""
        self.abandoned.set()
        self.control.stop()


class CommandReader:
    """Read the parent's commands on a thread: queue jobs, steer the current run, quit."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.jobs: queue.SimpleQueue[ChildRun | None] = queue.SimpleQueue()
        self._current: ChildRun | None = None
        threading.Thread(target=self._read_all, name="digits-commands", daemon=True).start()

    def _read_all(self) -> None:
        while True:
            try:
                command = self.connection.recv()
            except (EOFError, OSError):
                command = ("quit",)
            kind = command[0]
            if kind == "run":
                # A new job is only sent once the last one has ended, so commands that follow
                # are for it.
                self._current = ChildRun(command[1])
                self.jobs.put(self._current)
            elif kind == "control" and self._current is not None:
                _, method, arguments = command
                if method in CONTROL_METHODS:
                    getattr(self._current.control, method)(*arguments)
            elif kind == "geometry" and self._current is not None:
                self._current.geometry = command[1]
            elif kind == "quit":
                if self._current is not None:
                    self._current.abandon()
                self.jobs.put(None)
                return


def serve(commands: Connection, messages: Connection) -> None:
    """Run jobs from the command pipe until told to quit, posting messages (process entry).

    Started with the "spawn" method, so this function and its module must import cleanly.
    """
    exit_with_parent()
    # Ctrl+C in a terminal reaches every process of the group: the app alone decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox = Outbox(messages)
    reader = CommandReader(commands)
    cache = MnistCache()
    while (run := reader.jobs.get()) is not None:
        run_training(run.job, cache, outbox.post, run.control, run.abandoned, run.current_geometry)
    outbox.close()


# ----- the parent's side -------------------------------------------------------------------------


class RunControl:
    """Steer a run in the training process: `engine.train.TrainingControl`'s steering methods.

    Each call is sent to the child at once and applies there after the current batch; bad
    values raise ValueError here, as TrainingControl's do. `paused` is kept on this side: True
    after `pause()` or `step()` (a step ends paused), False after `resume()` or `stop()`.
    """

    def __init__(self, send: Callable[[tuple], None]) -> None:
        self._send = send
        self.paused = False

    def stop(self) -> None:
        """Stop the run after the current batch (it also leaves a pause)."""
        self.paused = False
        self._control("stop")

    def pause(self) -> None:
        """Pause the run after the current batch until `resume`, `step` or `stop`."""
        self.paused = True
        self._control("pause")

    def resume(self) -> None:
        """Let a paused run go on."""
        self.paused = False
        self._control("resume")

    def step(self, batches: int = 1) -> None:
        """Let the run train `batches` more batches, then pause."""
        if batches < 1:
            raise ValueError("a step is at least one batch")
        self.paused = True
        self._control("step", batches)

    def extend_epochs(self, count: int = 1) -> None:
        """Add `count` epochs to the run (also when it waits paused after its last epoch)."""
        if count < 1:
            raise ValueError("extend by at least one epoch")
        self._control("extend_epochs", count)

    def set_learning_rate(self, learning_rate: float) -> None:
        """Replace the base learning rate from the next batch on."""
        check_learning_rate(learning_rate)
        self._control("set_learning_rate", learning_rate)

    def set_momentum(self, momentum: float) -> None:
        """Replace the momentum, in [0, 1), from the next batch on."""
        check_momentum(momentum)
        self._control("set_momentum", momentum)

    def set_weight_decay(self, weight_decay: float) -> None:
        """Replace the weight decay, in [0, 1), from the next batch on."""
        check_weight_decay(weight_decay)
        self._control("set_weight_decay", weight_decay)

    def _control(self, method: str, *arguments: object) -> None:
        self._send(("control", method, arguments))


class TrainingService:
    """Own the training process: start it when needed, hand it jobs, end it on close.

    `entry` is the process's entry function (a module-level one, for spawn); tests give one
    that changes something first.
    """

    def __init__(self, entry: Callable[[Connection, Connection], None] = serve) -> None:
        self.entry = entry
        self.process: BaseProcess | None = None
        self._commands: Connection | None = None
        self._inbox: queue.SimpleQueue[Message | None] = queue.SimpleQueue()

    def start(self, job: TrainingJob) -> TrainingRun:
        """Start a run of job in the training process (started first if need be)."""
        if self.process is None or not self.process.is_alive():
            self._launch()
        self.send(("run", job))
        return TrainingRun(self.process, self._inbox, self.send)

    def send(self, command: tuple) -> None:
        """Send the child a command; one that died is noticed when its run is polled."""
        with contextlib.suppress(OSError):
            self._commands.send(command)

    def shutdown(self) -> None:
        """End the training process (and so its own workers): quit, else terminate, else kill.

        Takes at most QUIT_SECONDS + 2 × END_SECONDS; called when the window closes.
        """
        process = self.process
        if process is None:
            return
        atexit.unregister(self.shutdown)
        self.send(("quit",))
        process.join(QUIT_SECONDS)
        for end in (process.terminate, process.kill):
            if process.is_alive():
                end()
                process.join(END_SECONDS)
        self._commands.close()
        self.process = None

    def _launch(self) -> None:
        """Start a fresh training process (replacing one that died)."""
        if self.process is not None:
            self.shutdown()
        context = multiprocessing.get_context(START_METHOD)
        child_commands, self._commands = context.Pipe(duplex=False)
        messages, child_messages = context.Pipe(duplex=False)
        # Not a daemon: daemon processes may not start the other workers of a run.
        self.process = context.Process(
            target=self.entry, args=(child_commands, child_messages), name=PROCESS_NAME
        )
        self.process.start()
        # Only the child holds these ends now, so its death closes the message pipe.
        child_commands.close()
        child_messages.close()
        self._inbox = queue.SimpleQueue()
        threading.Thread(
            target=receive_all, args=(messages, self._inbox), name="digits-inbox", daemon=True
        ).start()
        # multiprocessing joins non-daemon children at exit: end this one first.
        atexit.register(self.shutdown)


def receive_all(connection: Connection, inbox: queue.SimpleQueue[Message | None]) -> None:
    """Move the training process's messages into inbox, then None once it has ended."""
    with connection:
        while True:
            try:
                inbox.put(connection.recv())
            except (EOFError, OSError):
                inbox.put(None)
                return


class TrainingRun:
    """One run in the training process, as the tab sees it: messages to poll and a control.

    `get_nowait` works like a queue's (raising queue.Empty); when the process ends before the
    run's last message (Finished, Failed or DataFailed), it returns a Failed saying so.
    """

    def __init__(
        self,
        process: BaseProcess,
        inbox: queue.SimpleQueue[Message | None],
        send: Callable[[tuple], None],
    ) -> None:
        self.process = process
        self.pid = process.pid
        self.inbox = inbox
        self.control = RunControl(send)
        self.ended = False
        self._send = send

    @property
    def alive(self) -> bool:
        """Return True until the run's last message has been taken."""
        return not self.ended

    def stop(self) -> None:
        """Stop training after the current batch; the network is still evaluated."""
        self.control.stop()

    def set_geometry(self, geometry: HeatmapGeometry) -> None:
        """Have the run's next heatmaps drawn for where they are shown now (after a resize)."""
        self._send(("geometry", geometry))

    def get_nowait(self) -> Message:
        """Return the run's next message; raise queue.Empty if none is waiting."""
        if self.ended:
            raise queue.Empty
        message = self.inbox.get_nowait()
        if message is None:  # the process ended; everything it sent came first
            self.ended = True
            return process_died(self.process)
        self.ended = isinstance(message, ENDING_MESSAGES)
        return message


def process_died(process: BaseProcess) -> Failed:
    """Return the Failed message for a training process that ended in the middle of a run."""
    process.join(END_SECONDS)
    code = process.exitcode
    how = (
        f"killed by signal {-code}"
        if code is not None and code < 0
        else f"exit code {code}"
        if code is not None
        else "still running but no longer answering"
    )
    summary = f"the training process ended unexpectedly ({how})"
    details = (
        f"The training process (pid {process.pid}) ended before its run did ({how}). "
        "Nothing of the run was kept; press Train to start again."
    )
    return Failed("training", summary, details)
