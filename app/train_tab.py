"""The Train tab: train a network on MNIST in a worker process and watch it learn, live.

The tab is a frame of panels, each in its own module with one job: left, the settings form
(`app.train_form`) and the MNIST data card (`app.train_data`); right, the run card with the
buttons and progress (`app.train_run`), the live plots (`app.train_plots`) and a notebook of
the weights page (`app.train_weights`), the results page (`app.train_results`), the charts
page (`app.train_charts`) and the run log (`app.train_log`). Panels
never talk to each other: they report button presses through callbacks to this tab, which
owns the workers and the run's state and tells each panel what to show.

Training runs in a child process (`app.training_process`), so the window never waits for the
interpreter lock; a download runs on a daemon thread. `_poll` reads at most
MAX_MESSAGES_PER_TICK messages from each every POLL_MS with `after()`, so the Tk thread only
ever does small pieces of work.
"""

from __future__ import annotations

import queue
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, messagebox, ttk

from app.context import AppContext
from app.debounce import Debouncer
from app.heatmap import HeatmapGeometry
from app.models import dialog_text
from app.savedialog import ask_save_path, pictures_or_home
from app.settings import path_value, whole
from app.train_charts import ChartsPage
from app.train_data import DataPanel, plain_data_problem
from app.train_form import DEFAULT_EPOCHS, SettingsForm, format_knob, remembered_fields
from app.train_log import LogPage
from app.train_plots import PlotsPanel
from app.train_results import ResultsPage
from app.train_run import RunPanel
from app.train_style import (
    ERROR_COLOUR,
    PANEL_PADDING,
    SUCCESS_COLOUR,
    WARNING_COLOUR,
    configure_train_styles,
)
from app.train_weights import WeightsPage
from app.training_process import TrainingRun, TrainingService
from app.training_worker import (
    DataFailed,
    DataProgress,
    DownloadDone,
    DownloadWorker,
    EpochDone,
    Evaluating,
    Failed,
    Finished,
    Loading,
    Message,
    Progress,
    Recovered,
    RunPaused,
    Started,
    Statistics,
    TrainingJob,
    WeightsUpdate,
    describe_outcome,
    mnist_present,
    progress_text,
    stored_drawings,
    take_messages,
)
from app.widgets import screen_scale
from engine.datadir import resolve_data_dir, user_models_dir
from engine.hint import run_hint
from engine.modelfile import ModelFileError, save_model
from engine.modelname import model_file_name, unused_model_name
from engine.network import Network
from engine.train import BatchEnd, EpochEnd, TrainConfig

POLL_MS = 40
MAX_MESSAGES_PER_TICK = 8
SHUTDOWN_JOIN_SECONDS = 0.25
# What the headline is about (TrainTab.headline_kind).
IDLE_STATE = "idle"
DATA_STATE = "data"
FORM_STATE = "form"
RUN_STATE = "run"
OUTCOME_STATE = "outcome"
TESTING_FAILED_HEADLINE = "Trained, but testing the network failed"
OUTCOME_COLOURS = {"finished": SUCCESS_COLOUR, "stopped": WARNING_COLOUR, "diverged": ERROR_COLOUR}
MODEL_FILE_TYPES = [("Digits model", "*.json")]
PNG_FILE_TYPES = [("PNG image", "*.png")]
# A knob's new value is logged once it has rested this long (a drag sends dozens).
KNOB_LOG_DELAY_MS = 700
PLOTS_FILE = "training-plots.png"
WEIGHTS_FILE = "weights.png"
# Of the height the window gives beyond what the panes ask, the pages get two parts in three.
PLOTS_PANE_WEIGHT = 1
VIEWS_PANE_WEIGHT = 2
MAX_PANE_HEIGHT = 20_000


class TrainTab(ttk.Frame):
    """Run trainings and downloads, and tell the panels what to show."""

    def __init__(self, master: tk.Misc, context: AppContext) -> None:
        self.scale = screen_scale(master)
        self.gap = round(PANEL_PADDING * self.scale)
        super().__init__(master, padding=self.gap)
        self.context = context
        self.messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self.service = TrainingService()
        self.worker: TrainingRun | None = None
        self.downloader: DownloadWorker | None = None
        self.chosen_folder: Path | None = None
        self.finished: Finished | None = None
        self.training = False
        self.latest_batch: BatchEnd | None = None
        self.run_config: TrainConfig | None = None
        # The base learning rate a person chose for the run: the form's, or set live.
        self.chosen_rate = 0.0
        self.hint: str | None = None
        self.started: Started | None = None
        # Paused as the person sees it: from Pause, or a step's end, until Resume or Step.
        self.paused = False
        self.paused_at_end = False
        self._knob_changes: dict[str, float] = {}
        self._knob_where = ""
        self.last_failure: Failed | None = None
        self._training_headline = ""
        self.headline_kind = IDLE_STATE
        self._poll_id: str | None = None
        self._drawn_geometry: HeatmapGeometry | None = None  # what the run draws heatmaps for
        configure_train_styles(self)
        self._build_panels()
        self._knob_log = Debouncer(self, self._log_knob_changes, KNOB_LOG_DELAY_MS)
        self._restore()
        self.show_data_state()
        self._show_idle()
        self.bind("<Map>", self._on_map)

    def _build_panels(self) -> None:
        """Build the panels: form and data on the left, run, plots and views on the right."""
        gap = self.gap
        left = ttk.Frame(self)
        left.grid(row=0, column=0, rowspan=2, sticky="nsw", padx=(0, gap))
        self.form = SettingsForm(
            left,
            gap,
            self.scale,
            self.context.current_model,
            self._on_learning_rate,
            self._on_momentum,
            self._on_weight_decay,
        )
        self.form.pack(fill="x")
        self.data = DataPanel(left, gap, self.scale, self.download, self._on_choose_folder)
        self.data.pack(fill="x", pady=(gap, 0))
        self.run = RunPanel(
            self, gap, self.train, self.toggle_pause, self.stop, self.step, self.add_epoch
        )
        self.run.grid(row=0, column=1, sticky="new", pady=(0, gap))
        # Dragging the sash between the plots and the pages gives either more room.
        self.panes = ttk.Panedwindow(self, orient="vertical")
        self.panes.grid(row=1, column=1, sticky="nsew")
        self.plots = PlotsPanel(self.panes, gap, self.scale, self._on_export_plots, DEFAULT_EPOCHS)
        self.views = ttk.Notebook(self.panes)
        self.panes.add(self.plots, weight=PLOTS_PANE_WEIGHT)
        self.panes.add(self.views, weight=VIEWS_PANE_WEIGHT)
        # The window settles its size in a few steps at start: the sash is put back after.
        self._sash_restore = Debouncer(self.panes, self._restore_sash)
        self.panes.bind("<Configure>", self._on_panes_configure, add="+")
        self.weights = WeightsPage(self.views, gap, self.scale, self._on_export_heatmaps)
        self.results = ResultsPage(
            self.views, gap, self.scale, self._on_save_model, self.use_in_drawing_tab
        )
        self.charts = ChartsPage(self.views, gap, self.scale, DEFAULT_EPOCHS)
        self.log = LogPage(self.views, gap)
        self.views.add(self.weights, text="Weights")
        self.views.add(self.results, text="Results")
        self.views.add(self.charts, text="Charts")
        self.views.add(self.log, text="Log")
        self.columnconfigure(1, weight=1)
        self.rowconfigure(1, weight=1)

    def _restore(self) -> None:
        """Fill the form and the data folder from last run's settings, where still valid."""
        settings = self.context.settings
        self.form.restore(settings.get("train_form", remembered_fields(self.form.presets)) or {})
        folder = settings.get("data_folder", path_value)
        if self.context.data_dir is None and folder is not None and folder.is_dir():
            self.chosen_folder = folder
        # Applied once the panes' size has settled (see _on_panes_configure).
        self.remembered_plots_height = settings.get("plots_height", whole(1, MAX_PANE_HEIGHT))

    # ----- actions ----------------------------------------------------------------------------

    def remember(self) -> None:
        """Put the form, the chosen data folder and the plots' height in the settings store
        (saved on close)."""
        self.context.settings.put("train_form", self.form.values())
        if self.panes.winfo_height() > 1:
            self.context.settings.put("plots_height", self.panes.sashpos(0))
        if self.chosen_folder is not None:
            self.context.settings.put("data_folder", str(self.chosen_folder.resolve()))

    @property
    def data_folder(self) -> Path:
        """Return the MNIST folder in use: the chosen one, else --data, $DIGITS_DATA, per-user."""
        return resolve_data_dir(self.chosen_folder or self.context.data_dir)

    @property
    def running(self) -> bool:
        """Return True from Train until the run's last message (finished, failed) is shown."""
        return self.training and self.worker is not None

    def train(self) -> None:
        """Start a run with the form's settings, or say why it cannot start."""
        if self.running:
            return
        try:
            settings = self.form.settings()
            config = settings.config()
            network = settings.network(self.context.current_model())
        except ValueError as error:
            self._headline(f"Cannot train: {error}", ERROR_COLOUR, FORM_STATE)
            return
        folder = self.data_folder
        if not mnist_present(folder):
            self.headline_kind = DATA_STATE
            self.show_data_state()
            self._show_idle()
            return
        my_digits = self.context.my_digits_folder() if settings.add_my_digits else None
        if settings.add_my_digits and not stored_drawings(my_digits):
            self._headline(
                "Cannot train: My digits has no drawings to add. Keep some on the Draw tab"
                " (press the right digit), or untick Add my digits.",
                ERROR_COLOUR,
                FORM_STATE,
            )
            return
        self._reset_run(config.epochs)
        self.run_config = config
        self.chosen_rate = config.learning_rate
        job = TrainingJob(network, config, folder, self.weights.geometry(), my_digits)
        self.worker = self.service.start(job)
        self._drawn_geometry = job.geometry
        self.training = True
        self._set_running(True)
        self._headline(f"Loading MNIST from {folder}…")
        self.context.set_status("")
        self._schedule_poll()

    def toggle_pause(self) -> None:
        """Pause a running training, or resume a paused one."""
        if not self.running:
            return
        control = self.worker.control
        if self.paused:
            control.resume()
            self.paused = False
            self.run.show_paused(False)
            if self.paused_at_end:
                self._headline("Finishing the run…")
            else:
                self._headline(self._training_headline)
        else:
            control.pause()
            self.paused = True
            self.run.show_paused(True)
            self._headline("Paused: press Resume to go on", WARNING_COLOUR)

    def step(self) -> None:
        """Let a paused run train one batch and pause again."""
        if not self.running or not self.paused or self.paused_at_end:
            return
        self.worker.control.step(1)
        self.paused = False
        self.run.show_paused(False)
        self._headline("Training one batch…")
        self._log("Step: one batch")

    def add_epoch(self) -> None:
        """Make the run one epoch longer; a run paused after its last epoch trains it and
        pauses again."""
        if not self.running or self.started is None:
            return
        control = self.worker.control
        control.extend_epochs(1)
        epochs = self.plots.curves.epochs + 1
        self.plots.extend(epochs)
        self.charts.extend(epochs)
        self._log(f"+1 epoch: the run now has {epochs} epochs")
        if self.paused_at_end:
            self.paused_at_end = False
            control.step(self.started.batches_per_epoch)
            self.paused = False
            self.run.show_paused(False)
            self._headline(f"Training epoch {epochs}, then pausing again…")

    def stop(self) -> None:
        """Stop training after the current batch; what was learned is still tested and kept."""
        if self.running:
            self.worker.stop()
            self.run.show_stopping()
            self._headline("Stopping…")

    def download(self) -> None:
        """Download MNIST into the data folder on a background thread (pressing again cancels)."""
        if self.downloader is not None and self.downloader.alive:
            self.downloader.cancel.set()
            return
        self.downloader = DownloadWorker(self.data_folder, self.messages)
        self.downloader.start()
        self.data.show_download_started(self.data_folder)
        if not self.running:
            self._headline(f"Downloading MNIST into {self.data_folder}…", kind=DATA_STATE)
        self._schedule_poll()

    def use_data_folder(self, folder: Path) -> None:
        """Read MNIST from folder from now on (remembered at once, for the next start too)."""
        self.chosen_folder = folder
        self.show_data_state()
        if self.headline_kind == OUTCOME_STATE or not mnist_present(folder):
            self.headline_kind = DATA_STATE  # a new folder makes the last outcome old news
        self._show_idle()
        self.context.set_status(
            f"MNIST is read from {folder} from now on."
            if mnist_present(folder)
            else f"No MNIST files in {folder}.",
            error=not mnist_present(folder),
        )
        self.remember()
        problem = self.context.settings.save()
        if problem is not None:
            self.context.set_status(problem)

    def show_data_state(self, problem: str | None = None) -> None:
        """Say where MNIST is read from, or what is wrong with it."""
        folder = self.data_folder
        self.data.show_folder(folder, mnist_present(folder), problem)

    def use_in_drawing_tab(self) -> None:
        """Hand the trained network to the drawing tab as its current model."""
        if self.finished is None:
            return
        accuracy = self.finished.evaluation.accuracy
        self.context.use_model(self.finished.result.network, f"Trained just now ({accuracy:.1%})")
        self.context.set_status("The drawing tab now reads with the network trained here.")

    def trained_network(self) -> Network | None:
        """Return the network the last run trained (also when its testing failed), or None."""
        if self.finished is not None:
            return self.finished.result.network
        if self.last_failure is not None:
            return self.last_failure.network
        return None

    def save_model(self, path: Path) -> None:
        """Save the trained network as a model file; raise ModelFileError if it cannot be."""
        network = self.trained_network()
        if network is None:
            return
        save_model(network, path)
        self.context.set_status(f"Saved the trained model to {path}")

    def shutdown(self) -> None:
        """Stop the training process, the download and pending callbacks; call it before the
        window closes.

        The training process is told to quit (it abandons its run within one batch), and is
        terminated if it has not ended soon after (`TrainingService.shutdown`, under a second
        in all); its own workers end with it. The download thread is joined for at most
        SHUTDOWN_JOIN_SECONDS; it is a daemon thread, so one still busy cannot keep the app
        alive. Messages still queued are dropped. `app.main.DigitsApp.close` calls this from
        the window's close handler.
        """
        if self._poll_id is not None:
            self.after_cancel(self._poll_id)
            self._poll_id = None
        self.service.shutdown()
        if self.downloader is not None:
            self.downloader.cancel.set()
            self.downloader.join(SHUTDOWN_JOIN_SECONDS)

    # ----- the message loop -------------------------------------------------------------------

    def _schedule_poll(self) -> None:
        """Make sure the queue is being polled."""
        if self._poll_id is None:
            self._poll_id = self.after(POLL_MS, self._poll)

    def _poll(self) -> None:
        """Handle a few waiting messages; keep polling while a worker may still post."""
        self._poll_id = None
        messages = take_messages(self.messages, MAX_MESSAGES_PER_TICK)
        if self.worker is not None:
            messages += take_messages(self.worker, MAX_MESSAGES_PER_TICK)
        for message in messages:
            self._handle(message)
        self.plots.tick()
        workers = (self.worker, self.downloader)
        if any(w is not None and w.alive for w in workers) or not self.messages.empty():
            self._schedule_poll()
        else:
            self.plots.flush()

    def _handle(self, message: Message) -> None:
        """Show what one message from a worker says."""
        if isinstance(message, Progress):
            self._on_progress(message)
        elif isinstance(message, WeightsUpdate):
            self._on_weights(message)
        elif isinstance(message, EpochDone):
            self._on_epoch_done(message.end)
        elif isinstance(message, Statistics):
            self.charts.add(message.layers, message.samples_seen)
        elif isinstance(message, RunPaused):
            self._on_paused(message)
        elif isinstance(message, Recovered):
            self._on_recovered(message)
        elif isinstance(message, Started):
            self._on_started(message)
        elif isinstance(message, Loading):
            self._headline(f"Loading MNIST from {message.folder}…")
        elif isinstance(message, Evaluating):
            self._on_evaluating(message)
        elif isinstance(message, Finished):
            self._on_finished(message)
        elif isinstance(message, Failed):
            self._on_failed(message)
        elif isinstance(message, DataFailed):
            self._on_data_failed(message)
        elif isinstance(message, DataProgress):
            self.data.show_download_progress(message)
        elif isinstance(message, DownloadDone):
            self._on_download_done(message)

    def _on_started(self, message: Started) -> None:
        """Show what is being trained, and size the plots' axes for the run."""
        self.started = message
        self.plots.start(message.epochs, message.batches_per_epoch)
        cores = f" on {message.cores} cores" if message.cores > 1 else ""
        self.charts.start(message.epochs, message.train_images)
        config = self.run_config
        self._log(
            f"Run started: {message.architecture} ({message.activation}) on"
            f" {message.train_images:,} images · learning rate {config.learning_rate:g},"
            f" momentum {format_knob(config.momentum)},"
            f" weight decay {format_knob(config.weight_decay)}, {config.schedule} schedule,"
            f" batch {config.batch_size}, {config.epochs} epochs"
            + (", augmented" if config.augment else "")
        )
        if message.my_drawings:
            self._log(
                f"{message.my_digit_images:,} of the images are my digits:"
                f" {message.my_drawings} drawings, each repeated"
            )
        mine = f" (with {message.my_drawings} of my digits)" if message.my_drawings else ""
        self._training_headline = (
            f"Training {message.architecture} ({message.activation}) on"
            f" {message.train_images:,} images{mine}{cores}, testing on {message.test_images:,}"
        )
        self._headline(self._training_headline)
        self.run.show_details(f"Preparing {message.train_images:,} images…")

    def _on_progress(self, message: Progress) -> None:
        """Move the progress bar, update the figures and queue the new loss points."""
        batch = message.batch
        self.latest_batch = batch
        self.plots.add_points(message.points)
        self.run.show_progress(batch.samples_seen / batch.total_samples)
        self.run.show_details(progress_text(batch, self.plots.curves.epochs))

    def _on_weights(self, message: WeightsUpdate) -> None:
        """Show new heatmaps; if the page changed size, have the next ones drawn for it."""
        self.weights.show_update(message)
        geometry = self.weights.geometry()
        if self.running and geometry != self._drawn_geometry:
            self.worker.set_geometry(geometry)
            self._drawn_geometry = geometry

    def _on_finished(self, message: Finished) -> None:
        """Show the run's outcome, test accuracy, confusion matrix and misclassified digits."""
        self.finished = message
        self.training = False
        self._set_running(False)
        result, evaluation = message.result, message.evaluation
        self.run.show_progress(1.0 if result.reason == "finished" else 0.0)
        outcome = describe_outcome(result, evaluation.accuracy, self.plots.curves.epochs)
        self._headline(outcome.headline, OUTCOME_COLOURS[result.reason], OUTCOME_STATE)
        if self.started is not None:
            self.hint = run_hint(result, self.chosen_rate, self.started.train_images)
        self.run.show_details(self.hint or outcome.details, "How the run ended")
        self._log(f"{outcome.headline} · {outcome.details}")
        if self.hint is not None:
            self._log(f"Hint: {self.hint}")
        if result.train_seconds > 0:
            self.weights.show_final_cost(message.snapshot_seconds / result.train_seconds)
        self.results.show(message)
        self.views.select(self.results)
        self.context.set_status(outcome.status, error=result.reason == "diverged")
        self.plots.end()

    def _on_evaluating(self, message: Evaluating) -> None:
        """Say that training is over and testing has begun (the figures line says so too)."""
        self._headline(f"Testing the trained network on {message.images:,} images…")
        self.run.show_progress(1.0)
        batch = self.latest_batch
        trained = "" if batch is None else f" after {batch.samples_seen:,} images"
        self.run.show_details(f"Training done{trained}; testing…")

    def _on_failed(self, message: Failed) -> None:
        """Show an unexpected worker error: one line here, the traceback behind Details…."""
        self.last_failure = message
        if message.task == "download":
            self.data.show_download_ended()
            self.show_data_state(f"The download failed: {message.summary}")
        else:
            self.training = False
            self._set_running(False)
        kind = DATA_STATE if message.task == "download" else OUTCOME_STATE
        more = (f"The {message.task} failed", message.details)
        if message.network is not None:
            # Training worked, only measuring it did not: say so plainly and keep the weights.
            self._headline(TESTING_FAILED_HEADLINE, WARNING_COLOUR, kind)
            self.run.show_details(f"Save model… keeps the trained weights. ({message.summary})")
            self.run.show_more(more)
            self.results.save_button.state(["!disabled"])
            self.views.select(self.results)
            self.context.set_status(TESTING_FAILED_HEADLINE, error=True)
            return
        self._headline(f"The {message.task} failed: {message.summary}", ERROR_COLOUR, kind)
        self._log(f"The {message.task} failed: {message.summary}")
        self.run.show_details("")
        self.run.show_more(more)
        self.context.set_status(f"The {message.task} failed: {message.summary}", error=True)

    def _on_epoch_done(self, end: EpochEnd) -> None:
        """Plot one epoch's figures and log them."""
        self.plots.add_epoch(end)
        tested = ""
        if end.test_accuracy is not None:
            tested = f" · test loss {end.test_loss:.3f}, accuracy {end.test_accuracy:.1%}"
        self._log(
            f"Epoch {end.epoch}/{end.epochs}: train loss {end.train_loss:.3f},"
            f" accuracy {end.train_accuracy:.1%}{tested}"
        )

    def _on_paused(self, message: RunPaused) -> None:
        """Say where the run waits, and what the buttons can do from there."""
        if not self.running:
            return
        epochs = self.plots.curves.epochs
        self.paused = True
        self.paused_at_end = message.epoch > epochs
        self.run.show_paused(True, can_step=not self.paused_at_end)
        if self.paused_at_end:
            self._headline(
                f"All {epochs} epochs done, paused: +1 epoch trains another;"
                " Resume or Stop ends the run",
                WARNING_COLOUR,
            )
            self._log(f"Paused after the last epoch ({epochs})")
        else:
            self._headline(
                f"Paused before batch {message.batch:,} of epoch {message.epoch}:"
                " Step trains one batch, Resume goes on",
                WARNING_COLOUR,
            )
            self._log(f"Paused before batch {message.batch:,} of epoch {message.epoch}")

    def _on_recovered(self, message: Recovered) -> None:
        """Show the lowered learning rate on the slider and say what happened."""
        event = message.event
        self.form.show_learning_rate(event.learning_rate)
        self._log(log_position(event.epoch, event.batch) + event.message)
        self.context.set_status(event.message)

    def _on_download_done(self, message: DownloadDone) -> None:
        """Say that MNIST is ready, or why the download did not finish."""
        self.data.show_download_ended()
        self.show_data_state(message.problem)
        if self.running:
            return  # the run's state stays the headline; the data card says how it went
        if message.problem is None:
            self._headline(
                "MNIST downloaded and verified: ready to train", SUCCESS_COLOUR, IDLE_STATE
            )
            self.context.set_status(f"MNIST downloaded into {message.folder}.")
        elif message.cancelled:
            self._headline("Download cancelled", WARNING_COLOUR, DATA_STATE)
        else:
            self._headline("The download failed (see MNIST data)", ERROR_COLOUR, DATA_STATE)
            summary = message.problem.splitlines()[0].rstrip(":")
            self.context.set_status(f"The MNIST download failed: {summary}", error=True)

    def _on_data_failed(self, message: DataFailed) -> None:
        """Show why training could not read the MNIST files."""
        self.training = False
        self._set_running(False)
        self.show_data_state(plain_data_problem(message.folder, message.message))
        self._headline("Cannot read MNIST (see MNIST data)", ERROR_COLOUR, DATA_STATE)
        self.run.show_details("")

    # ----- keeping the panels in step ---------------------------------------------------------

    def _reset_run(self, epochs: int) -> None:
        """Clear the plots, progress and results of the previous run."""
        self.finished = None
        self.latest_batch = None
        self.started = None
        self.hint = None
        self.paused = False
        self.paused_at_end = False
        self.run.show_progress(0.0)
        self.run.show_details("")
        self.results.clear()
        self.views.select(self.weights)
        self.plots.reset(epochs, "Loading…")
        self.charts.reset(epochs, "Loading…")

    def _headline(self, text: str, colour: str | None = None, kind: str = RUN_STATE) -> None:
        """Show the tab's state above the progress bar; kind says what it is about, so a
        change elsewhere knows whether it makes the line untrue (see `_show_idle`)."""
        self.headline_kind = kind
        self.run.show_headline(text, colour)

    def _show_idle(self) -> None:
        """Unless a run goes on or its outcome is shown, say whether training can start."""
        if self.running or self.headline_kind == OUTCOME_STATE:
            return
        if mnist_present(self.data_folder):
            self._headline("Ready to train", kind=IDLE_STATE)
        else:
            self._headline(
                "MNIST is needed: download it or choose its folder", ERROR_COLOUR, DATA_STATE
            )

    def _set_running(self, running: bool) -> None:
        """Enable the buttons and form fields that make sense while training runs or not."""
        self.form.set_running(running)
        self.run.set_running(running)

    # ----- event handlers ---------------------------------------------------------------------

    def _on_learning_rate(self, rate: float) -> None:
        """Hand a new learning rate to a running training at once."""
        if self.running:
            self.worker.control.set_learning_rate(rate)
            self.chosen_rate = rate
            self._knob_moved("learning rate", rate)

    def _on_momentum(self, momentum: float) -> None:
        """Hand a new momentum to a running training at once."""
        if self.running:
            self.worker.control.set_momentum(momentum)
            self._knob_moved("momentum", momentum)

    def _on_weight_decay(self, weight_decay: float) -> None:
        """Hand a new weight decay to a running training at once."""
        if self.running:
            self.worker.control.set_weight_decay(weight_decay)
            self._knob_moved("weight decay", weight_decay)

    def _knob_moved(self, knob: str, value: float) -> None:
        """Note a knob's new value for the log, written once the knobs come to rest."""
        if not self._knob_changes:
            batch = self.latest_batch
            self._knob_where = "" if batch is None else log_position(batch.epoch, batch.batch)
        self._knob_changes[knob] = value
        self._knob_log.trigger()

    def _log_knob_changes(self) -> None:
        """Log the knobs moved during a run, with where the run was when the first moved."""
        changes = ", ".join(f"{knob} {format_knob(v)}" for knob, v in self._knob_changes.items())
        self._knob_changes.clear()
        self.log.add(f"{self._knob_where}set {changes}")

    def _log(self, line: str) -> None:
        """Add a line to the run log, after any knob moves still waiting to be logged."""
        if self._knob_log.pending:
            self._knob_log.cancel()
            self._log_knob_changes()
        self.log.add(line)

    def _on_panes_configure(self, _event: tk.Event) -> None:
        """Wait for the panes' size to settle before putting the sash back (once)."""
        if self.remembered_plots_height is not None:
            self._sash_restore.trigger()

    def _restore_sash(self) -> None:
        """Put the sash where it was left last time."""
        if self.remembered_plots_height is not None and self.panes.winfo_height() > 1:
            self.panes.sashpos(0, self.remembered_plots_height)
            self.remembered_plots_height = None

    def _on_map(self, _event: tk.Event) -> None:
        """Refresh the description of the loaded model when the tab is shown."""
        if not self.running:
            self.form.refresh_start_choice()

    def _on_choose_folder(self) -> None:
        """Ask for the folder that holds the MNIST files."""
        folder = filedialog.askdirectory(parent=self, title="Folder with the MNIST files")
        if folder:
            self.use_data_folder(Path(folder))

    def _on_save_model(self) -> None:
        """Ask where to save the trained model (a name saying what it is) and save it."""
        network = self.trained_network()
        if network is None:
            return
        folder = self.context.settings.folder("model", models_folder())
        accuracy = None if self.finished is None else self.finished.evaluation.accuracy
        name = unused_model_name(
            folder, model_file_name(network.architecture, network.activation, accuracy)
        )
        path = ask_save_path(
            self, self.context.settings, "model", "Save model", MODEL_FILE_TYPES, name, folder
        )
        if path is not None:
            try:
                self.save_model(path)
            except ModelFileError as error:
                message, detail = dialog_text(error, "The trained model is still here.")
                messagebox.showerror("Cannot save the model", message, detail=detail, parent=self)

    def _on_export_plots(self) -> None:
        """Ask for a file name and save the plots there as PNG."""
        path = ask_save_path(
            self, self.context.settings, "export", "Export plots", PNG_FILE_TYPES, PLOTS_FILE
        )
        if path is not None:
            self._export(self.plots.export_plots, path)

    def _on_export_heatmaps(self) -> None:
        """Ask for a file name and save the heatmaps there as PNG."""
        path = ask_save_path(
            self, self.context.settings, "export", "Export heatmaps", PNG_FILE_TYPES, WEIGHTS_FILE
        )
        if path is not None:
            self._export(self.weights.export_heatmaps, path)

    def _export(self, export: Callable[[Path], None], path: Path) -> None:
        """Run an export, showing a failure to write the file instead of raising it."""
        try:
            export(path)
        except OSError as error:
            messagebox.showerror("Cannot export", f"{path}: {error.strerror}", parent=self)
        else:
            self.context.set_status(f"Saved {path}")


def log_position(epoch: int, batch: int) -> str:
    """Return where in a run a log line happened: "Epoch 2, batch 1,234: "."""
    return f"Epoch {epoch}, batch {batch:,}: "


def models_folder() -> Path:
    """Return the per-user models folder, made if needed (else the pictures or home folder)."""
    folder = user_models_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return pictures_or_home()
    return folder
