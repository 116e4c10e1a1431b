"""The Train tab: train a network on MNIST on a background thread and watch it learn, live.

Left, the form (architecture, learning rate, batch size, epochs, training-set size,
augmentation), the Train / Pause / Stop buttons and the MNIST data folder; top right, the
progress bar and the loss and accuracy plots; below them the first layer's weights as 28×28
heatmaps and the later layers' weight matrices, and, once a run ends, its results: the
confusion matrix and a gallery of test digits.

Training runs in `app.training_worker.TrainingWorker` on a daemon thread that reports through
a queue; `_poll` reads at most MAX_MESSAGES_PER_TICK messages every POLL_MS with `after()`, so
the Tk thread only ever does small pieces of work. Methods here build widgets (`_build_*`),
handle events (`_on_*`), or are the tab's actions, which tests call too.
"""

from __future__ import annotations

import queue
import sys
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, messagebox, ttk

from PIL import Image, ImageTk

from app.context import AppContext
from app.heatmap import (
    HeatmapGeometry,
    Heatmaps,
    SheetStyle,
    heatmap_sheet,
    legend_image,
    neuron_tile,
    scale_label,
)
from app.plot import PlotCanvas, TrainingCurves, pillow_font, render_image
from app.results import ConfusionMatrix, DigitGallery, GalleryItem, cell_indices
from app.training_worker import (
    BATCH_SIZES,
    LEARNING_RATE_MAX,
    LEARNING_RATE_MIN,
    TRAINING_SIZES,
    Architecture,
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
    MnistCache,
    Progress,
    Started,
    TrainingJob,
    TrainingWorker,
    TrainSettings,
    WeightsUpdate,
    architecture_presets,
    describe_outcome,
    describe_size,
    learning_rate_at,
    mnist_present,
    progress_text,
    slider_position,
    take_messages,
)
from app.widgets import (
    BAR_HIGHLIGHT,
    BAR_TRACK,
    MUTED_TEXT,
    PANEL_BACKGROUND,
    PixelView,
    Tooltip,
    screen_scale,
)
from engine.activations import ACTIVATIONS
from engine.datadir import resolve_data_dir
from engine.modelfile import ModelFileError, save_model
from engine.network import LOSSES
from engine.train import SCHEDULES, BatchEnd, TrainConfig

POLL_MS = 40
# The training thread keeps the GIL for up to this long before the Tk thread gets it back,
# and every Tk call the window makes while training waits for that: Python's default (5 ms)
# adds up to tens of milliseconds per screen update.
TRAINING_SWITCH_INTERVAL_SECONDS = 0.001
MAX_MESSAGES_PER_TICK = 8
PLOT_REDRAW_SECONDS = 0.25
SHUTDOWN_JOIN_SECONDS = 0.25
PANEL_PADDING = 8
RATE_SLIDER_LENGTH = 130
FORM_TEXT_WRAP = 360
DEFAULT_EPOCHS = 3
MAX_EPOCHS = 100
DEFAULT_TRAINING_SIZE = 10_000
PROGRESS_STEPS = 1000
LOSS_PLOT_SIZE = (440, 160)
ACCURACY_PLOT_SIZE = (270, 160)
MOSAIC_BOX = (500, 180)
MOSAIC_GAP = 2
MOSAIC_BACKGROUND = (214, 219, 227)
NEURON_BOX = 112
MATRIX_WIDTH = 300
MATRIX_HEIGHT = 36
LEGEND_SIZE = (180, 10)
# Room either side of the gradient for the half of its end labels that sticks out.
LEGEND_MARGIN = 20
GALLERY_SIZE = (400, 190)
CUSTOM_PRESET = "Custom"
WEIGHTS_HINT = "The weights of every layer appear here when a run starts."
LOSS_LABELS = {"cross_entropy": "softmax + cross-entropy", "mse": "sigmoid + squared error"}
START_NEW = "new"
START_LOADED = "loaded"
ERROR_COLOUR = "#c0392b"
WARNING_COLOUR = "#b45309"
SUCCESS_COLOUR = "#1e7b45"
OUTCOME_COLOURS = {"finished": SUCCESS_COLOUR, "stopped": WARNING_COLOUR, "diverged": ERROR_COLOUR}
MODEL_FILE_TYPES = [("Digits model", "*.json")]
PNG_FILE_TYPES = [("PNG image", "*.png")]
TRACEBACK_SIZE = (100, 24)
EXPORT_FONT_PX = 13
EXPORT_BACKGROUND = (255, 255, 255)
EXPORT_TEXT = (31, 35, 40)
RADIO_STYLE = "Train.TRadiobutton"
CHECK_STYLE = "Train.TCheckbutton"
PROGRESS_STYLE = "Train.Horizontal.TProgressbar"
# Buttons sharing a line with text (headlines, captions) are no taller than the text, so the
# tab fits a 768-pixel-high screen.
COMPACT_BUTTON_STYLE = "Compact.TButton"
COMPACT_BUTTON_PADDING = (8, 0)


class TrainTab(ttk.Frame):
    """Hold the training form, the live plots and heatmaps, and the results of a run."""

    def __init__(self, master: tk.Misc, context: AppContext) -> None:
        self.scale = screen_scale(master)
        self.gap = round(PANEL_PADDING * self.scale)
        super().__init__(master, padding=self.gap)
        self.context = context
        self.messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self.cache = MnistCache()
        self.presets = architecture_presets()
        self.worker: TrainingWorker | None = None
        self.downloader: DownloadWorker | None = None
        self.chosen_folder: Path | None = None
        self.curves = TrainingCurves(DEFAULT_EPOCHS, note="Press Train to start")
        self.heatmaps: Heatmaps | None = None
        self._matrix_photos: list[ImageTk.PhotoImage | None] = []
        self.selected_unit = 0
        self.finished: Finished | None = None
        self.heatmap_render_seconds = 0.0
        self.training = False
        self.latest_batch: BatchEnd | None = None
        self.last_failure: Failed | None = None
        self._training_headline = ""
        self._applying_preset = False
        self._poll_id: str | None = None
        self._plot_dirty = False
        self._last_plot = 0.0
        self._build_styles()
        self._build_variables()
        self._build_form()
        self._build_progress()
        self._build_plots()
        self._build_views()
        self.columnconfigure(1, weight=1)
        self.rowconfigure(1, weight=1)
        self._apply_preset(next(iter(self.presets)))
        self._show_data_state()
        self.bind("<Map>", self._on_map)

    # ----- building ---------------------------------------------------------------------------

    def _build_styles(self) -> None:
        """Style the check and radio buttons, the progress bars and the compact buttons."""
        style = ttk.Style(self)
        for name in (RADIO_STYLE, CHECK_STYLE):
            style.configure(name, background=PANEL_BACKGROUND)
            style.map(
                name, background=[("disabled", PANEL_BACKGROUND), ("active", PANEL_BACKGROUND)]
            )
        style.configure(COMPACT_BUTTON_STYLE, padding=COMPACT_BUTTON_PADDING)
        style.configure(
            PROGRESS_STYLE,
            background=BAR_HIGHLIGHT,
            troughcolor=BAR_TRACK,
            bordercolor=BAR_TRACK,
            lightcolor=BAR_HIGHLIGHT,
            darkcolor=BAR_HIGHLIGHT,
        )

    def _build_variables(self) -> None:
        """Create the Tk variables behind the form."""
        self.preset = tk.StringVar(self)
        self.hidden = tk.StringVar(self)
        self.activation = tk.StringVar(self)
        self.loss = tk.StringVar(self)
        self.start_from = tk.StringVar(self, START_NEW)
        self.rate_position = tk.DoubleVar(self)
        self.schedule = tk.StringVar(self, TrainConfig.schedule)
        self.batch_size = tk.StringVar(self, str(TrainConfig.batch_size))
        self.epochs = tk.StringVar(self, str(DEFAULT_EPOCHS))
        self.training_size = tk.StringVar(self, describe_size(DEFAULT_TRAINING_SIZE))
        self.augment = tk.BooleanVar(self, False)

    def _build_form(self) -> None:
        """Build the left column: network, settings, run buttons and the data folder."""
        panel = ttk.Frame(self, style="Card.TFrame", padding=self.gap)
        panel.grid(row=0, column=0, rowspan=2, sticky="nsw", padx=(0, self.gap))
        panel.columnconfigure(1, weight=1)
        self._form_row = 0
        self._heading(panel, "Network")
        self.preset_box = self._combobox(
            panel, "Preset", self.preset, [*self.presets, CUSTOM_PRESET], width=26
        )
        self.preset_box.bind("<<ComboboxSelected>>", self._on_preset)
        self.hidden_entry = ttk.Entry(panel, textvariable=self.hidden, width=12)
        self._form_widget(panel, "Hidden layers", self.hidden_entry)
        Tooltip(self.hidden_entry, "Sizes of the hidden layers joined by '-', e.g. 16-16 or 128.")
        self.activation_box = self._combobox(panel, "Activation", self.activation, ACTIVATIONS)
        self.loss_box = self._combobox(
            panel, "Output", self.loss, [LOSS_LABELS[loss] for loss in LOSSES], width=22
        )
        for variable in (self.hidden, self.activation, self.loss):
            variable.trace_add("write", self._on_shape_edit)
        self._build_start_choice(panel)
        self._heading(panel, "Settings")
        self._build_rate_slider(panel)
        self.schedule_box = self._combobox(panel, "Schedule", self.schedule, SCHEDULES)
        Tooltip(self.schedule_box, "How the learning rate falls over the run.")
        self.batch_box = self._combobox(
            panel, "Batch size", self.batch_size, [str(size) for size in BATCH_SIZES]
        )
        self.epochs_box = ttk.Spinbox(
            panel, from_=1, to=MAX_EPOCHS, textvariable=self.epochs, width=6
        )
        self._form_widget(panel, "Epochs", self.epochs_box)
        self.size_box = self._combobox(
            panel,
            "Training images",
            self.training_size,
            [describe_size(size) for size in TRAINING_SIZES],
            width=14,
        )
        self.augment_check = ttk.Checkbutton(
            panel,
            text="Augment (shift, rotate, bend, vary strokes)",
            variable=self.augment,
            style=CHECK_STYLE,
        )
        self.augment_check.grid(row=self._next_row(), column=0, columnspan=2, sticky="w", pady=2)
        self._build_buttons(panel)
        self._build_data_panel(panel)

    def _build_start_choice(self, panel: ttk.Frame) -> None:
        """Build the choice between a new network and continuing the drawing tab's model."""
        ttk.Label(panel, text="Start from", style="Card.TLabel").grid(
            row=self._next_row(), column=0, sticky="nw", pady=2
        )
        choices = ttk.Frame(panel, style="Inner.TFrame")
        choices.grid(row=self._form_row - 1, column=1, sticky="w")
        self.start_new = ttk.Radiobutton(
            choices,
            text="a new network",
            value=START_NEW,
            variable=self.start_from,
            command=self._on_start_choice,
            style=RADIO_STYLE,
        )
        self.start_new.pack(anchor="w")
        self.start_loaded = ttk.Radiobutton(
            choices,
            text="the loaded model",
            value=START_LOADED,
            variable=self.start_from,
            command=self._on_start_choice,
            style=RADIO_STYLE,
        )
        self.start_loaded.pack(anchor="w")
        self.loaded_label = ttk.Label(choices, text="", style="CardMuted.TLabel")
        self.loaded_label.pack(anchor="w", padx=(22, 0))
        Tooltip(self.start_loaded, "Go on training the model the Draw tab is using.")

    def _build_rate_slider(self, panel: ttk.Frame) -> None:
        """Build the learning-rate slider (log scale) and the label showing its value."""
        ttk.Label(panel, text="Learning rate", style="Card.TLabel").grid(
            row=self._next_row(), column=0, sticky="w", pady=2
        )
        row = ttk.Frame(panel, style="Inner.TFrame")
        row.grid(row=self._form_row - 1, column=1, sticky="ew")
        self.rate_scale = ttk.Scale(
            row,
            from_=slider_position(LEARNING_RATE_MIN),
            to=slider_position(LEARNING_RATE_MAX),
            variable=self.rate_position,
            command=self._on_rate_slider,
            length=round(RATE_SLIDER_LENGTH * self.scale),
        )
        self.rate_scale.pack(side="left", fill="x", expand=True)
        self.rate_label = ttk.Label(row, text="", width=6, style="Card.TLabel", anchor="e")
        self.rate_label.pack(side="left")
        Tooltip(
            self.rate_scale,
            "Log scale from 0.001 to 10. Moving it during training changes the running "
            "network's learning rate from the next batch on.",
        )

    def _build_buttons(self, panel: ttk.Frame) -> None:
        """Build Train, Pause/Resume and Stop."""
        buttons = ttk.Frame(panel, style="Inner.TFrame")
        buttons.grid(row=self._next_row(), column=0, columnspan=2, sticky="ew", pady=(12, 4))
        self.train_button = ttk.Button(buttons, text="Train", command=self.train)
        self.pause_button = ttk.Button(buttons, text="Pause", command=self.toggle_pause)
        self.stop_button = ttk.Button(buttons, text="Stop", command=self.stop)
        for button in (self.train_button, self.pause_button, self.stop_button):
            button.pack(side="left", expand=True, fill="x", padx=(0, 4))
        self.pause_button.state(["disabled"])
        self.stop_button.state(["disabled"])

    def _build_data_panel(self, panel: ttk.Frame) -> None:
        """Build the MNIST folder line, Download / Choose folder… and the download progress."""
        self._heading(panel, "MNIST data")
        self.data_label = ttk.Label(
            panel, text="", style="CardMuted.TLabel", wraplength=round(FORM_TEXT_WRAP * self.scale)
        )
        self.data_label.grid(row=self._next_row(), column=0, columnspan=2, sticky="w")
        buttons = ttk.Frame(panel, style="Inner.TFrame")
        buttons.grid(row=self._next_row(), column=0, columnspan=2, sticky="ew", pady=(4, 0))
        self.download_button = ttk.Button(buttons, text="Download", command=self.download)
        self.download_button.pack(side="left", padx=(0, 4))
        Tooltip(self.download_button, "Fetch the four MNIST files (about 11 MB) and verify them.")
        self.folder_button = ttk.Button(
            buttons, text="Choose folder…", command=self._on_choose_folder
        )
        self.folder_button.pack(side="left")
        self.download_bar = ttk.Progressbar(panel, maximum=PROGRESS_STEPS, style=PROGRESS_STYLE)
        self.download_bar.grid(row=self._next_row(), column=0, columnspan=2, sticky="ew", pady=4)
        self.download_bar.grid_remove()

    def _build_progress(self) -> None:
        """Build the run's headline, the progress bar and the line of figures under it."""
        panel = ttk.Frame(self, style="Card.TFrame", padding=self.gap)
        panel.grid(row=0, column=1, sticky="new", pady=(0, self.gap))
        panel.columnconfigure(0, weight=1)
        # Labels whose text changes ask for width 1 and stretch, so they never widen the window.
        self.headline = ttk.Label(
            panel, text="Ready to train", style="CardHeading.TLabel", anchor="w", width=1
        )
        self.headline.grid(row=0, column=0, sticky="ew")
        self.progress_bar = ttk.Progressbar(panel, maximum=PROGRESS_STEPS, style=PROGRESS_STYLE)
        self.progress_bar.grid(row=1, column=0, columnspan=2, sticky="ew", pady=4)
        self.details = ttk.Label(panel, text="", style="CardMuted.TLabel", anchor="w", width=1)
        self.details.grid(row=2, column=0, columnspan=2, sticky="ew")
        # A long message (a divergence) wraps instead of being cut off.
        self.details.bind("<Configure>", self._on_details_resize)
        tools = ttk.Frame(panel, style="Inner.TFrame")
        tools.grid(row=0, column=1, sticky="e")
        self.failure_button = ttk.Button(
            tools, text="Details…", command=self._on_failure_details, style=COMPACT_BUTTON_STYLE
        )
        self.plot_export = ttk.Button(
            tools, text="Export plots…", command=self._on_export_plots, style=COMPACT_BUTTON_STYLE
        )
        self.plot_export.pack(side="left")
        Tooltip(self.plot_export, "Save the loss and accuracy plots as one PNG image.")
        self.plots_row = ttk.Frame(panel, style="Inner.TFrame")
        self.plots_row.grid(row=3, column=0, columnspan=2, sticky="ew", pady=(self.gap // 2, 0))

    def _build_plots(self) -> None:
        """Build the loss and accuracy plots side by side, with their export button."""
        self.loss_plot = PlotCanvas(self.plots_row, *LOSS_PLOT_SIZE, self.scale)
        self.loss_plot.pack(side="left", fill="x", expand=True)
        self.accuracy_plot = PlotCanvas(self.plots_row, *ACCURACY_PLOT_SIZE, self.scale)
        self.accuracy_plot.pack(side="left", padx=(self.gap, 0))
        self._redraw_plots()

    def _build_views(self) -> None:
        """Build the lower notebook: the weight heatmaps page and the results page."""
        self.views = ttk.Notebook(self)
        self.views.grid(row=1, column=1, sticky="nsew")
        self.weights_page = ttk.Frame(self.views, style="Card.TFrame", padding=self.gap)
        self.results_page = ttk.Frame(self.views, style="Card.TFrame", padding=self.gap)
        self.views.add(self.weights_page, text="Weights")
        self.views.add(self.results_page, text="Results")
        self._build_weights_page()
        self._build_results_page()

    def _build_weights_page(self) -> None:
        """Build the first-layer mosaic with its colour legend, the large neuron and matrices."""
        page = self.weights_page
        page.columnconfigure(0, weight=1)
        page.rowconfigure(3, weight=1)  # spare height goes below the legend
        self.mosaic_caption = ttk.Label(page, text=WEIGHTS_HINT, style="Card.TLabel", width=1)
        self.mosaic_caption.grid(row=0, column=0, sticky="ew")
        width, height = (round(size * self.scale) for size in MOSAIC_BOX)
        self.mosaic_canvas = tk.Canvas(
            page,
            width=width,
            height=height,
            background=PANEL_BACKGROUND,
            highlightthickness=0,
            cursor="hand2",
        )
        self.mosaic_canvas.grid(row=1, column=0, sticky="nw", pady=4)
        self.mosaic_photo: ImageTk.PhotoImage | None = None
        self.mosaic_item = self.mosaic_canvas.create_image(0, 0, anchor="nw")
        self.mosaic_canvas.bind("<Button-1>", self._on_mosaic_click)
        legend_row = self._build_legend(page)
        # The column of the enlarged unit and the later layers runs the page's full height, so
        # a deeper network (the classic 16-16) still fits without making the window taller.
        side = ttk.Frame(page, style="Inner.TFrame")
        side.grid(row=0, column=1, rowspan=5, sticky="nw", padx=(self.gap, 0))
        self.neuron_caption = ttk.Label(side, text="", style="Card.TLabel")
        self.neuron_caption.pack(anchor="w")
        # Packed with the first heatmaps: an empty view would be a black square.
        self.neuron_view = PixelView(side, NEURON_BOX, self.scale, pixel_grid=False)
        self.matrices = ttk.Frame(side, style="Inner.TFrame")
        self.matrices.pack(anchor="w", fill="x")
        self._matrix_views: list[tuple[ttk.Label, ttk.Label]] = []
        self.heatmap_export = ttk.Button(
            legend_row,
            text="Export PNG…",
            command=self._on_export_heatmaps,
            style=COMPACT_BUTTON_STYLE,
        )
        self.heatmap_export.pack(side="right", anchor="n")
        Tooltip(self.heatmap_export, "Save the heatmaps and their colour scale as one PNG image.")

    def _build_legend(self, page: ttk.Frame) -> ttk.Frame:
        """Build the colour-map legend: the gradient bar with −scale, 0 and +scale under it.

        Return the legend's row, which has room for a button at its right end.
        """
        width, height = (round(size * self.scale) for size in LEGEND_SIZE)
        row = ttk.Frame(page, style="Inner.TFrame")
        row.grid(row=2, column=0, sticky="ew")
        ttk.Label(row, text="weight", style="CardMuted.TLabel").pack(side="left", padx=(0, 6))
        text_height = round(16 * self.scale)
        margin = round(LEGEND_MARGIN * self.scale)
        self.legend = tk.Canvas(
            row,
            width=width + 2 * margin,
            height=height + text_height,
            background=PANEL_BACKGROUND,
            highlightthickness=0,
        )
        self.legend.pack(side="left")
        self.legend_photo = ImageTk.PhotoImage(legend_image(width, height))
        self.legend.create_image(margin, 0, image=self.legend_photo, anchor="nw")
        self.legend_texts = [
            self.legend.create_text(
                margin + width * fraction, height + 2, text=label, anchor="n", fill=MUTED_TEXT
            )
            for fraction, label in ((0.0, "−"), (0.5, "0"), (1.0, "+"))
        ]
        self.heatmap_note = ttk.Label(page, text="", style="CardMuted.TLabel", width=1)
        self.heatmap_note.grid(row=4, column=0, sticky="ew", pady=(4, 0))
        return row

    def _build_results_page(self) -> None:
        """Build the results: summary, confusion matrix, gallery and what to do with the model."""
        page = self.results_page
        page.columnconfigure(1, weight=1)
        self.summary = ttk.Label(
            page, text="Results appear here when a run ends.", style="CardHeading.TLabel", width=1
        )
        self.summary.grid(row=0, column=0, columnspan=2, sticky="ew", pady=(0, 4))
        actions = ttk.Frame(page, style="Inner.TFrame")
        actions.grid(row=0, column=1, sticky="ne")
        left = ttk.Frame(page, style="Inner.TFrame")
        left.grid(row=1, column=0, sticky="nw")
        self.confusion = ConfusionMatrix(left, self._on_confusion_cell, self.scale)
        self.confusion.pack(anchor="w")
        self.save_button = ttk.Button(
            actions, text="Save model…", command=self._on_save_model, style=COMPACT_BUTTON_STYLE
        )
        self.save_button.pack(side="left", padx=(0, 4))
        self.use_button = ttk.Button(
            actions,
            text="Use in drawing tab",
            command=self.use_in_drawing_tab,
            style=COMPACT_BUTTON_STYLE,
        )
        self.use_button.pack(side="left")
        self.save_button.state(["disabled"])
        self.use_button.state(["disabled"])
        right = ttk.Frame(page, style="Inner.TFrame")
        right.grid(row=1, column=1, sticky="nsew", padx=(self.gap * 2, 0))
        self.gallery_caption = ttk.Label(right, text="", style="Card.TLabel", width=1)
        self.gallery_caption.pack(anchor="w", fill="x")
        # Here rather than under the matrix, which then sets the page's height on its own.
        ttk.Label(
            right, text="Click a cell of the matrix to see its digits.", style="CardMuted.TLabel"
        ).pack(anchor="w")
        self.gallery = DigitGallery(right, *GALLERY_SIZE, self.scale)
        self.gallery.pack(fill="both", expand=True, pady=(2, 0))

    def _heading(self, panel: ttk.Frame, text: str) -> None:
        """Add a section heading to the form."""
        top = 0 if self._form_row == 0 else 10
        ttk.Label(panel, text=text, style="CardHeading.TLabel").grid(
            row=self._next_row(), column=0, columnspan=2, sticky="w", pady=(top, 2)
        )

    def _combobox(
        self,
        panel: ttk.Frame,
        label: str,
        variable: tk.StringVar,
        values: list[str] | tuple[str, ...],
        width: int = 10,
    ) -> ttk.Combobox:
        """Add a labelled read-only drop-down list to the form."""
        box = ttk.Combobox(
            panel, textvariable=variable, values=list(values), state="readonly", width=width
        )
        self._form_widget(panel, label, box)
        return box

    def _form_widget(self, panel: ttk.Frame, label: str, widget: tk.Widget) -> None:
        """Add a widget with its label on the next row of the form."""
        row = self._next_row()
        ttk.Label(panel, text=label, style="Card.TLabel").grid(
            row=row, column=0, sticky="w", pady=1, padx=(0, 8)
        )
        widget.grid(row=row, column=1, sticky="w", pady=1)

    def _next_row(self) -> int:
        """Return the next free row of the form."""
        self._form_row += 1
        return self._form_row - 1

    # ----- actions ----------------------------------------------------------------------------

    @property
    def learning_rate(self) -> float:
        """Return the learning rate the slider shows."""
        return learning_rate_at(self.rate_position.get())

    @property
    def data_folder(self) -> Path:
        """Return the MNIST folder in use: the chosen one, else --data, $DIGITS_DATA, per-user."""
        return resolve_data_dir(self.chosen_folder or self.context.data_dir)

    @property
    def running(self) -> bool:
        """Return True from Train until the run's last message (finished, failed) is shown."""
        return self.training and self.worker is not None

    def settings(self) -> TrainSettings:
        """Return the form's settings; raise ValueError with a readable reason if one is bad."""
        loss = next(key for key, label in LOSS_LABELS.items() if label == self.loss.get())
        try:
            epochs = int(self.epochs.get())
        except ValueError:
            raise ValueError(f"epochs must be a whole number, not {self.epochs.get()!r}") from None
        return TrainSettings(
            architecture=Architecture(self.hidden.get(), self.activation.get(), loss),
            continue_loaded=self.start_from.get() == START_LOADED,
            learning_rate=self.learning_rate,
            batch_size=int(self.batch_size.get()),
            epochs=epochs,
            train_images=TRAINING_SIZES[self.size_box.current()],
            augment=self.augment.get(),
            schedule=self.schedule.get(),
        )

    def train(self) -> None:
        """Start a run with the form's settings, or say why it cannot start."""
        if self.running:
            return
        try:
            settings = self.settings()
            config = settings.config()
            network = settings.network(self.context.current_model())
        except ValueError as error:
            self._show_headline(f"Cannot train: {error}", ERROR_COLOUR)
            return
        folder = self.data_folder
        if not mnist_present(folder):
            self._show_headline("MNIST is needed: download it or choose its folder", ERROR_COLOUR)
            self._show_data_state()
            return
        self._reset_run(config.epochs)
        job = TrainingJob(network, config, folder, self.cache, self._heatmap_geometry())
        self.worker = TrainingWorker(job, self.messages)
        sys.setswitchinterval(TRAINING_SWITCH_INTERVAL_SECONDS)
        self.worker.start()
        self.training = True
        self._set_running(True)
        self._show_headline(f"Loading MNIST from {folder}…")
        self._schedule_poll()

    def _heatmap_geometry(self) -> HeatmapGeometry:
        """Return where this tab shows heatmaps, in screen pixels."""
        return HeatmapGeometry(
            mosaic_box=(round(MOSAIC_BOX[0] * self.scale), round(MOSAIC_BOX[1] * self.scale)),
            gap=round(MOSAIC_GAP * self.scale),
            background=MOSAIC_BACKGROUND,
            matrix_box=(round(MATRIX_WIDTH * self.scale), round(MATRIX_HEIGHT * self.scale)),
        )

    def toggle_pause(self) -> None:
        """Pause a running training, or resume a paused one."""
        if not self.running:
            return
        control = self.worker.control
        if control.paused:
            control.resume()
            self.pause_button.configure(text="Pause")
            self._show_headline(self._training_headline)
        else:
            control.pause()
            self.pause_button.configure(text="Resume")
            self._show_headline("Paused: press Resume to go on", WARNING_COLOUR)

    def stop(self) -> None:
        """Stop training after the current batch; what was learned is still tested and kept."""
        if self.running:
            self.worker.stop()
            self.pause_button.configure(text="Pause")
            self.pause_button.state(["disabled"])
            self.stop_button.state(["disabled"])
            self._show_headline("Stopping…")

    def download(self) -> None:
        """Download MNIST into the data folder on a background thread (pressing again cancels)."""
        if self.downloader is not None and self.downloader.alive:
            self.downloader.cancel.set()
            return
        self.downloader = DownloadWorker(self.data_folder, self.messages)
        self.downloader.start()
        self.download_button.configure(text="Cancel")
        self.folder_button.state(["disabled"])
        self.download_bar.configure(value=0)
        self.download_bar.grid()
        self.data_label.configure(text=f"Downloading MNIST into {self.data_folder}…")
        self._schedule_poll()

    def use_data_folder(self, folder: Path) -> None:
        """Read MNIST from folder from now on."""
        self.chosen_folder = folder
        self._show_data_state()

    def use_in_drawing_tab(self) -> None:
        """Hand the trained network to the drawing tab as its current model."""
        if self.finished is None:
            return
        accuracy = self.finished.evaluation.accuracy
        self.context.use_model(self.finished.result.network, f"Trained just now ({accuracy:.1%})")
        self.context.set_status("The drawing tab now reads with the network trained here.")

    def save_model(self, path: Path) -> None:
        """Save the trained network as a model file; raise ModelFileError if it cannot be."""
        if self.finished is not None:
            save_model(self.finished.result.network, path)
            self.context.set_status(f"Saved the trained model to {path}")

    def export_plots(self, path: Path) -> None:
        """Save the loss and accuracy plots side by side as one PNG."""
        pictures = [
            render_image(plot.spec, *plot.drawn_size(), self.scale)
            for plot in (self.loss_plot, self.accuracy_plot)
            if plot.spec is not None
        ]
        sheet = Image.new(
            "RGB",
            (sum(p.width for p in pictures), max(p.height for p in pictures)),
            PANEL_BACKGROUND,
        )
        x = 0
        for picture in pictures:
            sheet.paste(picture, (x, 0))
            x += picture.width
        sheet.save(path, "PNG")

    def export_heatmaps(self, path: Path) -> None:
        """Save every heatmap, captioned and with the colour scale, as one PNG."""
        if self.heatmaps is None:
            return
        size = round(EXPORT_FONT_PX * self.scale)
        style = SheetStyle(
            font=pillow_font(size),
            line_height=round(size * 1.5),
            background=EXPORT_BACKGROUND,
            text_colour=EXPORT_TEXT,
            margin=self.gap,
        )
        heatmap_sheet(self.heatmaps, style).save(path, "PNG")

    def shutdown(self) -> None:
        """Stop every background thread and pending callback; call it before the window closes.

        The training worker is told to abandon its run (it stops within one batch) and each
        thread is joined for at most SHUTDOWN_JOIN_SECONDS; they are daemon threads, so one
        still busy reading files cannot keep the process alive. Messages still queued are
        dropped. `app.main.DigitsApp.close` calls this from the window's close handler.
        """
        if self._poll_id is not None:
            self.after_cancel(self._poll_id)
            self._poll_id = None
        if self.worker is not None:
            self.worker.abandon()
            self.worker.join(SHUTDOWN_JOIN_SECONDS)
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
        for message in take_messages(self.messages, MAX_MESSAGES_PER_TICK):
            self._handle(message)
        if self._plot_dirty and time.perf_counter() - self._last_plot >= PLOT_REDRAW_SECONDS:
            self._redraw_plots()
        workers = (self.worker, self.downloader)
        if any(w is not None and w.alive for w in workers) or not self.messages.empty():
            self._schedule_poll()
        elif self._plot_dirty:
            self._redraw_plots()

    def _handle(self, message: Message) -> None:
        """Show what one message from a worker says."""
        if isinstance(message, Progress):
            self._on_progress(message)
        elif isinstance(message, WeightsUpdate):
            self._on_weights(message)
        elif isinstance(message, EpochDone):
            self.curves.ends.append(message.end)
            self._redraw_plots()
        elif isinstance(message, Started):
            self._on_started(message)
        elif isinstance(message, Loading):
            self._show_headline(f"Loading MNIST from {message.folder}…")
        elif isinstance(message, Evaluating):
            self._show_headline(f"Testing the trained network on {message.images:,} images…")
        elif isinstance(message, Finished):
            self._on_finished(message)
        elif isinstance(message, Failed):
            self._on_failed(message)
        elif isinstance(message, DataFailed):
            self._on_data_failed(message)
        elif isinstance(message, DataProgress):
            self._on_data_progress(message)
        elif isinstance(message, DownloadDone):
            self._on_download_done(message)

    def _on_started(self, message: Started) -> None:
        """Show what is being trained, and size the plots' axes for the run."""
        self.curves = TrainingCurves(message.epochs, message.batches_per_epoch)
        self._training_headline = (
            f"Training {message.architecture} ({message.activation}) on"
            f" {message.train_images:,} images, testing on {message.test_images:,}"
        )
        self._show_headline(self._training_headline)
        self.details.configure(text=f"Preparing {message.train_images:,} images…")
        self._redraw_plots()

    def _on_progress(self, message: Progress) -> None:
        """Move the progress bar, update the figures and queue the new loss points."""
        batch = message.batch
        self.latest_batch = batch
        self.curves.points.extend(message.points)
        self._plot_dirty = True
        self.progress_bar.configure(value=PROGRESS_STEPS * batch.samples_seen / batch.total_samples)
        self.details.configure(text=progress_text(batch, self.curves.epochs))

    def _on_weights(self, message: WeightsUpdate) -> None:
        """Show new heatmaps and what making them costs the training."""
        started = time.perf_counter()
        self.heatmaps = message.heatmaps
        self._show_weights()
        self.heatmap_render_seconds = time.perf_counter() - started
        note = f"after {message.samples_seen:,} images"
        if message.interval_seconds:
            note += (
                f" · refresh costs {message.cost_seconds * 1000:.0f} ms"
                f" every {message.interval_seconds:.1f} s"
                f" = {message.cost_seconds / message.interval_seconds:.1%} of training time"
            )
        self.heatmap_note.configure(text=note)

    def _on_finished(self, message: Finished) -> None:
        """Show the run's outcome, test accuracy, confusion matrix and misclassified digits."""
        self.finished = message
        self.training = False
        self._set_running(False)
        result, evaluation = message.result, message.evaluation
        self.progress_bar.configure(value=PROGRESS_STEPS if result.reason == "finished" else 0)
        outcome = describe_outcome(result, evaluation.accuracy, self.curves.epochs)
        self._show_headline(outcome.headline, OUTCOME_COLOURS[result.reason])
        self.details.configure(text=outcome.details)
        self.summary.configure(
            text=f"Test accuracy {evaluation.accuracy:.1%}"
            f" ({len(message.test_set) - len(evaluation.misclassified):,}"
            f" of {len(message.test_set):,} test digits read right)"
        )
        if result.train_seconds > 0:
            share = message.snapshot_seconds / result.train_seconds
            self.heatmap_note.configure(
                text=f"final weights · heatmap refreshes took {share:.1%} of the training time"
            )
        self.confusion.show(evaluation.confusion)
        self._show_gallery(evaluation.misclassified, "Misclassified test digits")
        self.save_button.state(["!disabled"])
        self.use_button.state(["!disabled"])
        self.views.select(self.results_page)
        self.context.set_status(outcome.status)
        self.curves.ended = True
        self._redraw_plots()

    def _on_failed(self, message: Failed) -> None:
        """Show an unexpected worker error: one line here, the traceback behind Details…."""
        self.last_failure = message
        if message.task == "download":
            self._end_download()
            self._show_data_state(f"The download failed: {message.summary}")
        else:
            self.training = False
            self._set_running(False)
        self._show_headline(f"The {message.task} failed: {message.summary}", ERROR_COLOUR)
        self.details.configure(text="")
        self.failure_button.pack(side="left", padx=(0, 4), before=self.plot_export)
        self.context.set_status(f"The {message.task} failed: {message.summary}")

    def _on_data_progress(self, message: DataProgress) -> None:
        """Move the download bar and say which file is coming."""
        total = message.total or 0
        fraction = message.done / total if total else 0.0
        self.download_bar.configure(value=PROGRESS_STEPS * fraction)
        size = f"{message.done / 1e6:.1f}" + (f" of {total / 1e6:.1f} MB" if total else " MB")
        self.data_label.configure(text=f"Downloading {message.file}: {size}")

    def _on_download_done(self, message: DownloadDone) -> None:
        """Say that MNIST is ready, or why the download did not finish."""
        self._end_download()
        self._show_data_state(message.problem)
        if message.problem is None:
            self._show_headline("MNIST downloaded and verified: ready to train", SUCCESS_COLOUR)
        elif message.cancelled:
            self._show_headline("Download cancelled", WARNING_COLOUR)
        else:
            self._show_headline("The download failed (see MNIST data)", ERROR_COLOUR)

    def _on_data_failed(self, message: DataFailed) -> None:
        """Show why training could not read the MNIST files."""
        self.training = False
        self._set_running(False)
        self._show_data_state(message.message)
        self._show_headline("Cannot read MNIST (see MNIST data)", ERROR_COLOUR)
        self.details.configure(text="")

    # ----- showing things ---------------------------------------------------------------------

    def _reset_run(self, epochs: int) -> None:
        """Clear the plots, heatmap note and results of the previous run."""
        self.curves = TrainingCurves(epochs, note="Loading…")
        self.finished = None
        self.latest_batch = None
        self.failure_button.pack_forget()
        self.progress_bar.configure(value=0)
        self.details.configure(text="")
        self.confusion.show(None)
        self.gallery.show([])
        self.gallery_caption.configure(text="")
        self.summary.configure(text="Results appear here when the run ends.")
        self.save_button.state(["disabled"])
        self.use_button.state(["disabled"])
        self.views.select(self.weights_page)
        self._redraw_plots()

    def _set_running(self, running: bool) -> None:
        """Enable the buttons and form fields that make sense while training runs or not."""
        fixed = [
            self.preset_box,
            self.hidden_entry,
            self.activation_box,
            self.loss_box,
            self.start_new,
            self.start_loaded,
            self.schedule_box,
            self.batch_box,
            self.epochs_box,
            self.size_box,
            self.augment_check,
            self.train_button,
        ]
        for widget in fixed:
            widget.state(["disabled"] if running else ["!disabled"])
        for widget in (self.pause_button, self.stop_button):
            widget.state(["!disabled"] if running else ["disabled"])
        self.pause_button.configure(text="Pause")
        if not running:
            self._on_start_choice()

    def _show_headline(self, text: str, colour: str | None = None) -> None:
        """Show the run's one-line state above the progress bar."""
        self.headline.configure(text=text, foreground=colour or "")

    def _show_data_state(self, problem: str | None = None) -> None:
        """Say where MNIST is read from, and offer the download only when it is missing."""
        folder = self.data_folder
        if problem is None and mnist_present(folder):
            self.data_label.configure(text=f"Using {folder}", foreground="")
        else:
            self.data_label.configure(
                text=problem or f"Not found in {folder}. Download it or choose its folder.",
                foreground=ERROR_COLOUR,
            )

    def _end_download(self) -> None:
        """Put the data buttons back after a download ended."""
        self.download_button.configure(text="Download")
        self.folder_button.state(["!disabled"])
        self.download_bar.grid_remove()

    def _redraw_plots(self) -> None:
        """Draw both plots from the current curves."""
        self.loss_plot.show(self.curves.loss_spec())
        self.accuracy_plot.show(self.curves.accuracy_spec())
        self._plot_dirty = False
        self._last_plot = time.perf_counter()

    def _show_weights(self) -> None:
        """Paste the first layer's mosaic, the selected unit and the later layers' matrices."""
        heatmaps = self.heatmaps
        first = heatmaps.layers[0]
        self.mosaic_photo, replaced = pasted(self.mosaic_photo, heatmaps.mosaic)
        if replaced:
            self.mosaic_canvas.itemconfigure(self.mosaic_item, image=self.mosaic_photo)
            # Fit the canvas to the mosaic so the legend sits right under it.
            width, height = heatmaps.mosaic.size
            self.mosaic_canvas.configure(width=width, height=height)
        self.mosaic_caption.configure(
            text=f"Layer 1: the {first.inputs} weights into each of its {first.units} units"
            " (click one to enlarge)"
        )
        for item, value in zip(self.legend_texts, (-first.scale, 0.0, first.scale)):
            self.legend.itemconfigure(item, text=scale_label(value))
        self.selected_unit = min(self.selected_unit, first.units - 1)
        self._show_neuron()
        self._show_matrices()

    def _show_neuron(self) -> None:
        """Show the selected first-layer unit's weights large."""
        self.neuron_caption.configure(text=f"Unit {self.selected_unit + 1} of layer 1")
        if not self.neuron_view.winfo_manager():
            self.neuron_view.pack(anchor="w", pady=(2, 6), before=self.matrices)
        self.neuron_view.show(neuron_tile(self.heatmaps.first_coloured, self.selected_unit))

    def _show_matrices(self) -> None:
        """Show each later layer's weight matrix (units down, inputs across)."""
        later = self.heatmaps.layers[1:]
        if len(self._matrix_views) != len(later):
            for caption, view in self._matrix_views:
                caption.destroy()
                view.destroy()
            self._matrix_views = [
                (
                    ttk.Label(self.matrices, style="CardMuted.TLabel"),
                    ttk.Label(self.matrices, style="Card.TLabel"),
                )
                for _ in later
            ]
            self._matrix_photos = [None] * len(later)
            for caption, view in self._matrix_views:
                caption.pack(anchor="w")
                view.pack(anchor="w", pady=(0, 4))
        pieces = zip(later, self.heatmaps.matrices, self._matrix_views)
        for index, (picture, image, (caption, view)) in enumerate(pieces):
            caption.configure(
                text=f"Layer {index + 2}: {picture.units} units × {picture.inputs} inputs"
                f" (±{picture.scale:.2g})"
            )
            self._matrix_photos[index], replaced = pasted(self._matrix_photos[index], image)
            if replaced:
                view.configure(image=self._matrix_photos[index])

    def _show_gallery(self, indices: list[int], title: str) -> None:
        """Show the test digits at indices with what the network read."""
        if self.finished is None:
            return
        test_set = self.finished.test_set
        predictions = self.finished.evaluation.predictions
        items = [
            GalleryItem(test_set.images[i], test_set.labels[i], predictions[i]) for i in indices
        ]
        self.gallery.show(items)
        shown = len(self.gallery.items)
        count = f"{len(items):,}" if shown == len(items) else f"{len(items):,}, first {shown}"
        self.gallery_caption.configure(text=f"{title} ({count}) · true → read as")

    def _on_failure_details(self) -> None:
        """Open a window with the traceback of the last worker failure."""
        if self.last_failure is None:
            return
        failure = self.last_failure
        window = tk.Toplevel(self)
        window.title("Training failed")
        window.transient(self.winfo_toplevel())
        text = tk.Text(window, width=TRACEBACK_SIZE[0], height=TRACEBACK_SIZE[1], wrap="none")
        text.insert("1.0", failure.details)
        text.configure(state="disabled")
        text.pack(fill="both", expand=True)
        ttk.Button(window, text="Close", command=window.destroy).pack(anchor="e", padx=8, pady=8)

    def _apply_preset(self, name: str) -> None:
        """Fill the network fields and the learning rate from a preset."""
        preset = self.presets[name]
        self._applying_preset = True
        self.hidden.set(preset.architecture.hidden)
        self.activation.set(preset.architecture.activation)
        self.loss.set(LOSS_LABELS[preset.architecture.loss])
        self._applying_preset = False
        self.preset.set(name)
        self.rate_position.set(slider_position(preset.learning_rate))
        self._on_rate_slider(str(self.rate_position.get()))

    # ----- event handlers ---------------------------------------------------------------------

    def _on_preset(self, _event: tk.Event) -> None:
        """Apply the chosen preset (choosing Custom keeps the fields as they are)."""
        if self.preset.get() in self.presets:
            self._apply_preset(self.preset.get())

    def _on_shape_edit(self, *_args: object) -> None:
        """Show Custom as the preset once the fields no longer match one."""
        if self._applying_preset:
            return
        current = Architecture(
            self.hidden.get(),
            self.activation.get(),
            next((k for k, v in LOSS_LABELS.items() if v == self.loss.get()), ""),
        )
        match = next(
            (name for name, preset in self.presets.items() if preset.architecture == current),
            CUSTOM_PRESET,
        )
        self.preset.set(match)

    def _on_start_choice(self) -> None:
        """Enable the architecture fields only when a new network is trained."""
        new = self.start_from.get() == START_NEW
        for widget in (self.preset_box, self.hidden_entry, self.activation_box, self.loss_box):
            widget.state(["!disabled"] if new else ["disabled"])
        loaded = self.context.current_model()
        description = "none" if loaded is None else f"{loaded.architecture}, {loaded.activation}"
        self.loaded_label.configure(text=description)

    def _on_rate_slider(self, value: str) -> None:
        """Show the slider's learning rate and hand it to a running training at once."""
        rate = learning_rate_at(float(value))
        self.rate_label.configure(text=f"{rate:g}")
        if self.running:
            self.worker.control.set_learning_rate(rate)

    def _on_details_resize(self, event: tk.Event) -> None:
        """Wrap the line under the progress bar at its width."""
        self.details.configure(wraplength=event.width)

    def _on_map(self, _event: tk.Event) -> None:
        """Refresh the description of the loaded model when the tab is shown."""
        if not self.running:
            self._on_start_choice()

    def _on_mosaic_click(self, event: tk.Event) -> None:
        """Enlarge the clicked first-layer unit."""
        if self.heatmaps is None:
            return
        unit = self.heatmaps.layout.unit_at(event.x, event.y)
        if unit is not None:
            self.selected_unit = unit
            self._show_neuron()

    def _on_confusion_cell(self, true: int, predicted: int) -> None:
        """Show the test digits of one confusion-matrix cell."""
        if self.finished is None:
            return
        test_set = self.finished.test_set
        indices = cell_indices(
            test_set.labels, self.finished.evaluation.predictions, true, predicted
        )
        title = f"{true}s read right" if true == predicted else f"{true}s read as {predicted}"
        self._show_gallery(indices, title)

    def _on_choose_folder(self) -> None:
        """Ask for the folder that holds the MNIST files."""
        folder = filedialog.askdirectory(parent=self, title="Folder with the MNIST files")
        if folder:
            self.use_data_folder(Path(folder))

    def _on_save_model(self) -> None:
        """Ask where to save the trained model and save it."""
        path = filedialog.asksaveasfilename(
            parent=self, title="Save model", defaultextension=".json", filetypes=MODEL_FILE_TYPES
        )
        if path:
            try:
                self.save_model(Path(path))
            except ModelFileError as error:
                messagebox.showerror("Cannot save the model", str(error), parent=self)

    def _on_export_plots(self) -> None:
        """Ask for a file name and save the plots there as PNG."""
        path = filedialog.asksaveasfilename(
            parent=self, title="Export plots", defaultextension=".png", filetypes=PNG_FILE_TYPES
        )
        if path:
            self._export(self.export_plots, Path(path))

    def _on_export_heatmaps(self) -> None:
        """Ask for a file name and save the heatmaps there as PNG."""
        path = filedialog.asksaveasfilename(
            parent=self,
            title="Export heatmaps",
            defaultextension=".png",
            filetypes=PNG_FILE_TYPES,
        )
        if path:
            self._export(self.export_heatmaps, Path(path))

    def _export(self, export: Callable[[Path], None], path: Path) -> None:
        """Run an export, showing a failure to write the file instead of raising it."""
        try:
            export(path)
        except OSError as error:
            messagebox.showerror("Cannot export", f"{path}: {error.strerror}", parent=self)
        else:
            self.context.set_status(f"Saved {path}")


def pasted(photo: ImageTk.PhotoImage | None, image: Image.Image) -> tuple[ImageTk.PhotoImage, bool]:
    """Return a photo showing image and whether it is new: photo itself when the size matches.

    Pasting into the photo a widget already shows costs one Tk call and no widget change.
    """
    if photo is not None and (photo.width(), photo.height()) == image.size:
        photo.paste(image)
        return photo, False
    return ImageTk.PhotoImage(image), True
