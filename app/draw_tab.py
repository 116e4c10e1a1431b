"""The Draw tab: draw a digit with the mouse and watch the network read it, live.

Side by side: the drawing canvas and its tools, the prediction and ten probability bars, the
28×28 input the network sees and how preprocessing made it, and the hidden layers' activations
stacked in a column (one row of panels, so the window fits a 1366×768 laptop screen). The
drawing lives in `app.drawing.Drawing` and the reading in `app.models`; the methods here build
widgets (`_build_*`) or are small event handlers (`_on_*`) that call them.

Prediction runs on the Tk thread: the engine's forward pass takes a few milliseconds, so it is
throttled to one run per PREDICT_INTERVAL_MS while the pen moves and runs at once on release.

Correcting a reading: a digit key 0–9 or a click on that digit's probability bar keeps the
drawing in My digits (`engine.mydigits.DigitStore`) as that digit, Ctrl+Enter or Keep as the
digit read; the canvas is cleared for the next drawing, and Undo deletes exactly the file just
written and puts the drawing back on the canvas.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from tkinter import filedialog, messagebox, ttk

from app.drawing import (
    CANVAS_SIZE,
    DEFAULT_BRUSH_WIDTH,
    MAX_BRUSH_WIDTH,
    MIN_BRUSH_WIDTH,
    Drawing,
    Stroke,
    clamp_brush_width,
)
from app.models import (
    NO_MODEL_LABEL,
    DigitReader,
    ModelCatalogue,
    ModelEntry,
    ModelLoad,
    Reading,
    TeachBase,
    activation_full_scale,
    describe_model,
    dialog_text,
    taught_file_name,
    taught_label,
    too_small_to_read,
)
from app.savedialog import ask_save_path
from app.settings import SettingsStore
from app.widgets import (
    MUTED_TEXT,
    ActivationGrid,
    PatchedPhoto,
    PixelView,
    ProbabilityBars,
    Tooltip,
)
from engine.modelfile import ModelFileError
from engine.mydigits import DIGITS, DigitStore, StoredDrawing, StoreError
from engine.network import Network

PREDICT_INTERVAL_MS = 50
MODEL_LOAD_POLL_MS = 30
START_MODEL_FALLBACK = "Digits uses its shipped model instead."
NO_MODEL_FALLBACK = "Open another model or train one."
SHIPPED_MODEL_PROBLEM = "A model that comes with Digits cannot be opened."
BRUSH_STEP = 2.0
OPEN_LABEL = "Open…"
EMPTY_DIGIT = "–"
EMPTY_HINT = "draw a digit"
TOO_SMALL_HINT = "too small to read"
INPUT_VIEW_BOX = 224
STAGE_VIEW_BOX = 84
ACTIVATION_WIDTH = 256
ACTIVATION_HEIGHT = 128
# The hidden layers' grids share this height, so a deep network does not make the tab taller.
ACTIVATION_STACK_HEIGHT = 256
TOOL_BUTTON_CHARS = 9
PANEL_PADDING = 10
CONFIDENCE_CHARS = 15
TIMING_CHARS = 30
SHIFT_CHARS = 33
MODEL_FILE_TYPES = [("Digits model", "*.json"), ("All files", "*")]
PNG_FILE_TYPES = [("PNG image", "*.png")]
BRUSH_OUTLINE = "#2f6fdd"
ERASER_OUTLINE = "#d9534f"
CANVAS_HINT_COLOUR = "#b8bec8"
CANVAS_BORDER = "#c9ced6"
KEY_HINT = "Ctrl+Z undo · Esc clear · [ ] brush · F1 all keys"
KEEP_HINT = "wrong? press 0–9"
KEPT_CHARS = 21
COUNT_CHARS = 2

# (keys, what they do) for the Help menu; the bindings themselves are in _build_shortcuts.
SHORTCUTS = [
    ("Left drag", "Draw"),
    ("Right drag", "Erase"),
    ("Ctrl+Z", "Undo last stroke"),
    ("Esc / Delete", "Clear the drawing"),
    ("[  /  ]", "Thinner / thicker brush"),
    ("0 – 9", "Keep the drawing in My digits as that digit"),
    ("Ctrl+Enter", "Keep the drawing as the digit read"),
    ("Ctrl+S", "Save drawing as PNG"),
    ("Ctrl+O", "Open a model file"),
]


@dataclass(frozen=True)
class Kept:
    """The drawing last kept in My digits: its file, and its strokes to put back on Undo."""

    drawing: StoredDrawing
    strokes: tuple[Stroke, ...]


class DrawTab(ttk.Frame):
    """Hold the drawing canvas, the live prediction and the views of the network's input."""

    def __init__(
        self,
        master: tk.Misc,
        catalogue: ModelCatalogue,
        set_status: Callable[..., None],
        scale: float = 1.0,
        start_model: Path | None = None,
        settings: SettingsStore | None = None,
        my_digits: DigitStore | None = None,
    ) -> None:
        self.gap = round(PANEL_PADDING * scale)
        super().__init__(master, padding=self.gap)
        self.catalogue = catalogue
        self.set_status = set_status
        self.scale = scale
        self.settings = settings or SettingsStore(None)
        self.my_digits = my_digits
        self.kept: Kept | None = None
        self.drawing = Drawing()
        self.canvas_side = round(CANVAS_SIZE * scale)
        self.model: ModelEntry | None = None
        self.reading: Reading | None = None
        self._stroke_button: int | None = None
        self._predict_id: str | None = None
        self._redraw_id: str | None = None
        self._startup_errors: list[tuple[str, str]] = []
        self._model_load: ModelLoad | None = None
        self._model_load_id: str | None = None
        self._read_network: Network | None = None
        self.reader: DigitReader | None = None
        self._read_version = -1
        self._drawn_version = 0
        self.brush_width = tk.DoubleVar(self, DEFAULT_BRUSH_WIDTH)
        self.model_choice = tk.StringVar(self)
        self.right_button = 2 if self.tk.call("tk", "windowingsystem") == "aqua" else 3
        self._build_model_bar()
        self._build_canvas_panel()
        self._build_prediction_panel()
        self._build_input_panel()
        self._build_activation_panel()
        self._build_shortcuts()
        self.columnconfigure(1, weight=1)
        self.rowconfigure(1, weight=1)
        self._choose_start_model(start_model)
        self.bind("<Map>", lambda _event: self.refresh_counts())  # My digits may have changed

    # ----------------------------------------------------------------------------- building

    def _build_model_bar(self) -> None:
        """Build the model picker, the Open… button and the model description line."""
        bar = ttk.Frame(self)
        bar.grid(row=0, column=0, columnspan=4, sticky="ew", pady=(0, self.gap))
        ttk.Label(bar, text="Model", style="Heading.TLabel").pack(side="left")
        self.picker = ttk.Combobox(bar, textvariable=self.model_choice, state="readonly", width=30)
        self.picker.pack(side="left", padx=(8, 6))
        self.picker.bind("<<ComboboxSelected>>", self._on_model_picked)
        Tooltip(self.picker, "Choose the network that reads your drawing, or Open… a model file.")
        open_button = ttk.Button(bar, text="Open…", command=self.open_model_dialog)
        open_button.pack(side="left")
        Tooltip(
            open_button, "Load a model file saved by the Train tab or the command line (Ctrl+O)."
        )
        self._build_counter(bar)
        # width=1: the line takes the room left beside the counter and never widens the window.
        self.model_info = ttk.Label(bar, text="", style="Muted.TLabel", width=1)
        self.model_info.pack(side="left", padx=(14, 0), fill="x", expand=True)

    def _build_canvas_panel(self) -> None:
        """Build the drawing canvas with its brush control and Undo / Clear / Save buttons."""
        panel = ttk.Frame(self, style="Card.TFrame", padding=self.gap)
        panel.grid(row=1, column=0, sticky="nsew", padx=(0, self.gap))
        self._build_heading(panel, "Draw a digit", "right button erases")
        self.canvas = tk.Canvas(
            panel,
            width=self.canvas_side,
            height=self.canvas_side,
            background="white",
            highlightthickness=1,
            highlightbackground=CANVAS_BORDER,
            highlightcolor=CANVAS_BORDER,
            cursor="crosshair",
        )
        self.canvas.pack()
        self._canvas_photo = PatchedPhoto(self.drawing.display_image(self.canvas_side))
        self.canvas.create_image(0, 0, image=self._canvas_photo.photo, anchor="nw")
        self._canvas_hint = self.canvas.create_text(
            self.canvas_side / 2,
            self.canvas_side / 2,
            text="Draw a digit here",
            fill=CANVAS_HINT_COLOUR,
            font="HintFont",
        )
        self._brush_outline = self.canvas.create_oval(0, 0, 0, 0, outline="", width=1)
        self._bind_canvas()
        self._build_tools(panel)

    def _build_tools(self, panel: ttk.Frame) -> None:
        """Build the brush-width slider and the Undo, Clear and Save buttons under the canvas."""
        brush_row = ttk.Frame(panel, style="Inner.TFrame")
        brush_row.pack(fill="x", pady=(10, 6))
        ttk.Label(brush_row, text="Brush", style="Card.TLabel").pack(side="left")
        slider = ttk.Scale(
            brush_row,
            from_=MIN_BRUSH_WIDTH,
            to=MAX_BRUSH_WIDTH,
            variable=self.brush_width,
            command=self._on_brush_changed,
        )
        slider.pack(side="left", fill="x", expand=True, padx=8)
        Tooltip(slider, "Pen width for new strokes ([ and ] change it).")
        self.brush_label = ttk.Label(brush_row, width=6, style="Card.TLabel")
        self.brush_label.pack(side="left")
        self._on_brush_changed()
        buttons = ttk.Frame(panel, style="Inner.TFrame")
        buttons.pack(fill="x")
        for text, command, tip in (
            ("Undo", self.undo, "Remove the last stroke (Ctrl+Z)."),
            ("Clear", self.clear, "Start again with an empty canvas (Esc or Delete)."),
            ("Save PNG…", self.save_drawing_dialog, "Save the drawing as a 280×280 PNG (Ctrl+S)."),
        ):
            # Narrower than ttk's default, so the buttons are no wider than the canvas.
            button = ttk.Button(buttons, text=text, command=command, width=TOOL_BUTTON_CHARS)
            button.pack(side="left", expand=True, fill="x", padx=(0, 4))
            Tooltip(button, tip)
        ttk.Label(panel, text=KEY_HINT, style="CardMuted.TLabel", justify="left").pack(
            anchor="w", pady=(10, 0)
        )

    def _build_prediction_panel(self) -> None:
        """Build the large predicted digit, its confidence and the ten probability bars."""
        panel = ttk.Frame(self, style="Card.TFrame", padding=self.gap)
        panel.grid(row=1, column=1, sticky="nsew", padx=(0, self.gap))
        self._build_heading(panel, "Prediction", "live while you draw")
        verdict = ttk.Frame(panel, style="Inner.TFrame")
        verdict.pack(fill="x", pady=(0, 8))
        self.digit_label = ttk.Label(verdict, text=EMPTY_DIGIT, style="Digit.TLabel", width=1)
        self.digit_label.pack(side="left")
        # Fixed widths (in characters) for every label that changes with each reading: a label
        # that grows would re-lay out the whole tab and cost milliseconds per prediction.
        beside = ttk.Frame(verdict, style="Inner.TFrame")
        beside.pack(side="left", padx=(16, 0))
        self.confidence_label = ttk.Label(
            beside, text=EMPTY_HINT, style="Confidence.TLabel", width=CONFIDENCE_CHARS
        )
        self.confidence_label.pack(anchor="w")
        self.keep_button = ttk.Button(beside, text="Keep", command=self.keep_reading, width=6)
        self.keep_button.pack(anchor="w", pady=(4, 0))
        Tooltip(
            self.keep_button,
            "Keep the drawing in My digits as the digit read (Ctrl+Enter). Wrong? Press the"
            " right digit's key 0–9 or click its bar to keep it as that digit.",
        )
        self.bars = ProbabilityBars(panel, self.scale)
        self.bars.pack(fill="x")
        self.bars.show(None)
        Tooltip(
            self.bars,
            "The network's probability for each digit; they add up to 100 %."
            " Click a digit's bar to keep the drawing in My digits as that digit.",
        )
        self.bars.configure(cursor="hand2")
        self.bars.bind("<Button-1>", self._on_bar_clicked)
        self.timing_label = ttk.Label(panel, text="", style="CardMuted.TLabel", width=TIMING_CHARS)
        self.timing_label.pack(anchor="w", pady=(8, 0))
        row = ttk.Frame(panel, style="Inner.TFrame")
        row.pack(fill="x", pady=(4, 0))
        self.kept_label = ttk.Label(row, text=KEEP_HINT, style="CardMuted.TLabel", width=KEPT_CHARS)
        self.kept_label.pack(side="left")
        self.undo_keep_button = ttk.Button(
            row, text="Undo", command=self.undo_keep, width=5, state="disabled"
        )
        self.undo_keep_button.pack(side="right")
        Tooltip(
            self.undo_keep_button, "Delete the drawing just kept and put it back on the canvas."
        )

    def _build_counter(self, bar: ttk.Frame) -> None:
        """Build the per-digit counter of My digits at the right end of the model bar."""
        counter = ttk.Frame(bar)
        counter.pack(side="right", padx=(12, 0))
        ttk.Label(counter, text="My digits", style="Muted.TLabel").grid(
            row=0, column=0, rowspan=2, padx=(0, 6)
        )
        self.count_labels = []
        for digit in DIGITS:
            ttk.Label(counter, text=str(digit), style="Muted.TLabel").grid(row=0, column=digit + 1)
            label = ttk.Label(counter, text="0", width=COUNT_CHARS, anchor="center")
            label.grid(row=1, column=digit + 1)
            self.count_labels.append(label)
        Tooltip(counter, "How many drawings of each digit you have kept in My digits.")
        self.refresh_counts()

    def _build_input_panel(self) -> None:
        """Build the magnified 28×28 input and the three preprocessing stages that made it."""
        panel = ttk.Frame(self, style="Card.TFrame", padding=self.gap)
        panel.grid(row=1, column=2, sticky="nsew", padx=(0, self.gap))
        self._build_heading(panel, "What the network sees", "28×28 inputs")
        self.input_view = PixelView(panel, INPUT_VIEW_BOX, self.scale)
        self.input_view.pack(anchor="w")
        Tooltip(self.input_view, "These 784 grey levels are all the network gets.")
        stages = ttk.Frame(panel, style="Inner.TFrame")
        stages.pack(anchor="w", pady=(10, 0))
        self.stage_views = []
        for column, (caption, tip, centre_mark) in enumerate(
            (
                ("1 · crop", "Cut the drawing down to the box around its ink.", False),
                (
                    "2 · fit 20 px",
                    "Thin bold strokes or widen thin ones, scale the longer side to 20 px.",
                    False,
                ),
                ("3 · centre", "Move the centre of mass (red cross) to the middle.", True),
            )
        ):
            ttk.Label(stages, text=caption, style="Card.TLabel").grid(
                row=0, column=column, sticky="w", padx=(0, 10)
            )
            view = PixelView(stages, STAGE_VIEW_BOX, self.scale, centre_mark=centre_mark)
            view.grid(row=1, column=column, sticky="w", padx=(0, 10))
            Tooltip(view, tip)
            self.stage_views.append(view)
        self.shift_label = ttk.Label(panel, text="", style="CardMuted.TLabel", width=SHIFT_CHARS)
        self.shift_label.pack(anchor="w", pady=(6, 0))

    def _build_activation_panel(self) -> None:
        """Build the empty "Inside the network" panel; the grids follow the model's layers."""
        panel = ttk.Frame(self, style="Card.TFrame", padding=self.gap)
        panel.grid(row=1, column=3, sticky="nsew")
        self._build_heading(
            panel,
            "Inside the network",
            "each cell is one hidden unit: the brighter, the more active for this drawing",
            wrap=round(ACTIVATION_WIDTH * self.scale),  # as wide as the grids
        )
        self.layers_frame = ttk.Frame(panel, style="Inner.TFrame")
        self.layers_frame.pack(anchor="w", fill="x")
        self.activation_grids: list[ActivationGrid] = []

    def _build_heading(
        self, panel: ttk.Frame, title: str, note: str, wrap: int | None = None
    ) -> None:
        """Build a card's heading: a bold title with a muted note after it, or under it if wrap.

        wrap is the note's wrap length in pixels, for a narrow card whose note is long.
        """
        line = ttk.Frame(panel, style="Inner.TFrame")
        line.pack(anchor="w", fill="x", pady=(0, 6))
        ttk.Label(line, text=title, style="CardHeading.TLabel").pack(side="left")
        if wrap is None:
            ttk.Label(line, text=note, style="CardMuted.TLabel").pack(side="left", padx=(10, 0))
            return
        ttk.Label(panel, text=note, style="CardMuted.TLabel", wraplength=wrap).pack(
            anchor="w", pady=(0, 6)
        )

    def _build_activation_grids(self, network: Network | None) -> None:
        """Replace the activation grids with one per hidden layer of network."""
        for child in self.layers_frame.winfo_children():
            child.destroy()
        self.activation_grids = []
        if network is None:
            ttk.Label(self.layers_frame, text="no model loaded", style="CardMuted.TLabel").grid()
            return
        hidden = network.layer_sizes[1:-1]
        height = min(ACTIVATION_HEIGHT, ACTIVATION_STACK_HEIGHT // max(1, len(hidden)))
        for index, units in enumerate(hidden):
            ttk.Label(
                self.layers_frame,
                text=f"hidden layer {index + 1} · {units} units",
                style="Card.TLabel",
            ).grid(row=2 * index, column=0, sticky="w")
            grid = ActivationGrid(self.layers_frame, units, ACTIVATION_WIDTH, height, self.scale)
            grid.grid(row=2 * index + 1, column=0, sticky="nw", pady=(0, 8))
            self.activation_grids.append(grid)

    def _bind_canvas(self) -> None:
        """Bind the pen (left button), the eraser (right button) and the brush outline."""
        for button in (1, self.right_button):
            self.canvas.bind(f"<ButtonPress-{button}>", self._on_pen_down)
            self.canvas.bind(f"<B{button}-Motion>", self._on_pen_move)
            self.canvas.bind(f"<ButtonRelease-{button}>", self._on_pen_up)
        self.canvas.bind("<Motion>", self._on_hover)
        self.canvas.bind("<Leave>", self._on_leave_canvas)

    def _build_shortcuts(self) -> None:
        """Bind the keyboard shortcuts on the window; they act only while this tab shows."""
        window = self.winfo_toplevel()
        for sequence, action in (
            ("<Control-z>", self.undo),
            ("<Control-Z>", self.undo),
            ("<Escape>", self.clear),
            ("<Delete>", self.clear),
            ("<Control-s>", self.save_drawing_dialog),
            ("<Control-o>", self.open_model_dialog),
            ("<bracketleft>", lambda: self.change_brush(-BRUSH_STEP)),
            ("<bracketright>", lambda: self.change_brush(BRUSH_STEP)),
            ("<Control-Return>", self.keep_reading),
            ("<Control-KP_Enter>", self.keep_reading),
        ):
            window.bind(sequence, self._shortcut_handler(action), add="+")
        for digit in DIGITS:
            keep = self._keeper(digit)
            for sequence in (f"<Key-{digit}>", f"<KP_{digit}>"):
                window.bind(sequence, self._shortcut_handler(keep), add="+")

    def _keeper(self, digit: int) -> Callable[[], None]:
        """Return an action keeping the drawing as digit (for that digit's key)."""
        return lambda: self.keep_drawing(digit)

    def _shortcut_handler(self, action: Callable[[], object]) -> Callable[[tk.Event], str | None]:
        """Return a key handler running action unless the tab is hidden or text is being typed."""

        def on_key(_event: tk.Event) -> str | None:
            if not self.winfo_ismapped() or self._typing():
                return None
            action()
            return "break"

        return on_key

    # ------------------------------------------------------------------------ public actions

    def current_model(self) -> Network | None:
        """Return the network that reads the drawing (None when no model could be loaded)."""
        return None if self.model is None else self.model.network

    def use_model(self, network: Network, label: str) -> None:
        """Make network the current model under label in the picker (AppContext.use_model)."""
        self._select(self.catalogue.add_network(network, label))

    def teaching_base(self) -> TeachBase | None:
        """Return what teaching my digits starts from: the current model, or the shipped model
        a taught current model came from; None without a model or a per-user models folder."""
        if self.model is None or self.catalogue.taught_dir is None:
            return None
        base = self.catalogue.teaching_base(self.model)
        network = base.load()
        return TeachBase(
            network,
            base.path.name if base.path is not None else base.label,
            self.catalogue.taught_dir / taught_file_name(base),
            taught_label(base.label),
        )

    def use_taught_model(self, path: Path, network: Network, label: str) -> None:
        """Add the model just taught (saved at path) to the picker under label and use it."""
        self._select(self.catalogue.add_taught(path, network, label))

    def reset_to_shipped(self) -> bool:
        """Use the shipped default model again; return False if there is none."""
        if not self.catalogue.shipped:
            return False
        self._select(self.catalogue.shipped[0])
        return True

    def open_model_dialog(self) -> None:
        """Ask for a model file and load it; keep the current model on cancel or error."""
        path = filedialog.askopenfilename(
            parent=self, title="Open model", filetypes=MODEL_FILE_TYPES
        )
        if path:
            self.open_model_file(Path(path))
        else:
            self._show_picker_choice()

    def open_model_file(self, path: Path) -> None:
        """Start loading a model file off the Tk thread; use it once loaded, or say why not.

        The current model stays in use until the new one has loaded.
        """
        self._model_load = ModelLoad(path)
        self.set_status(f"Opening {path.name}…")
        self._poll_model_load()

    def _poll_model_load(self) -> None:
        """Use the model being loaded once it is ready; look again a little later if not."""
        self._model_load_id = None
        load = self._model_load
        if load is None:
            return
        outcome = load.poll()
        if outcome is None:
            self._model_load_id = self.after(MODEL_LOAD_POLL_MS, self._poll_model_load)
            return
        self._model_load = None
        if isinstance(outcome, ModelFileError):
            self._show_picker_choice()
            self.set_status(
                f"Could not open {load.path.name}; still using {self._model_name()}.", error=True
            )
            message, detail = dialog_text(outcome, f"Still using {self._model_name()}.")
            messagebox.showerror("Cannot open model", message, detail=detail, parent=self)
            return
        self._select(self.catalogue.add_loaded_file(load.path, outcome))

    def undo(self) -> None:
        """Remove the last stroke and read the drawing again."""
        self._stroke_button = None  # a stroke under way ends here; its drag adds nothing more
        if self.drawing.undo():
            self._drawing_changed()
        else:
            self.set_status("Nothing to undo.")

    def clear(self) -> None:
        """Remove every stroke."""
        self._stroke_button = None  # a stroke under way ends here; its drag adds nothing more
        if self.drawing.clear():
            self._drawing_changed()
            self.set_status("Cleared.")

    def change_brush(self, step: float) -> None:
        """Make the brush thicker (step > 0) or thinner."""
        self.brush_width.set(clamp_brush_width(self.brush_width.get() + step))
        self._on_brush_changed()

    def save_drawing_dialog(self) -> None:
        """Ask where to save the drawing and write it as a PNG."""
        path = ask_save_path(
            self, self.settings, "drawing", "Save drawing as PNG", PNG_FILE_TYPES, "digit.png"
        )
        if path is not None:
            self.save_drawing(path)

    def save_drawing(self, path: Path) -> bool:
        """Write the off-screen image (what the network reads) to path as a PNG."""
        try:
            self.drawing.image().save(path, format="PNG")
        except OSError as error:
            messagebox.showerror("Cannot save drawing", str(error), parent=self)
            return False
        self.set_status(f"Saved the drawing to {path}.")
        return True

    def keep_reading(self) -> None:
        """Keep the drawing in My digits as the digit the model read (Ctrl+Enter, Keep)."""
        if self.reading is None:
            self.set_status("Draw a digit first, then keep it.")
            return
        self.keep_drawing(self.reading.digit)

    def keep_drawing(self, digit: int) -> None:
        """Store the drawing (280×280 as drawn) in My digits as digit, then clear the canvas."""
        if self.my_digits is None:
            return
        if self.reading is None:
            self.set_status(
                "Draw a digit first, then press its key to keep it."
                if not too_small_to_read(self.drawing.image())
                else "That is too small to read: draw the digit bigger before keeping it.",
            )
            return
        try:
            stored = self.my_digits.add(self.drawing.image(), digit)
        except StoreError as error:
            self.set_status(f"Could not keep the drawing: {error}.", error=True)
            return
        read = self.reading.digit
        self.kept = Kept(stored, tuple(self.drawing.strokes))
        self._stroke_button = None
        self.drawing.clear()
        self._drawing_changed()
        correction = "" if read == digit else f" (read {read})"
        self.kept_label.configure(text=f"Kept as {digit}{correction} —", style="Card.TLabel")
        self.undo_keep_button.configure(state="normal")
        self.refresh_counts()
        self.set_status(f"Kept the drawing in My digits as {digit} ({stored.path}).")

    def undo_keep(self) -> None:
        """Delete the drawing just kept and put its strokes back on the canvas."""
        kept = self.kept
        if kept is None or self.my_digits is None:
            return
        try:
            self.my_digits.remove(kept.drawing)
        except StoreError as error:
            self.set_status(f"Could not undo: {error}.", error=True)
            return
        self.kept = None
        self._stroke_button = None
        self.drawing.clear()
        for stroke in kept.strokes:
            self.drawing.begin_stroke(stroke.points[0], stroke.width, stroke.erase)
            for point in stroke.points[1:]:
                self.drawing.extend_stroke(point)
        self._drawing_changed()
        self.kept_label.configure(
            text=f"Removed the {kept.drawing.label}", style="CardMuted.TLabel"
        )
        self.undo_keep_button.configure(state="disabled")
        self.refresh_counts()
        self.set_status(f"Removed the drawing kept as {kept.drawing.label}.")

    def refresh_counts(self) -> None:
        """Show how many drawings of each digit My digits holds (file names only, no reading)."""
        counts = self.my_digits.counts() if self.my_digits is not None else [0] * len(DIGITS)
        for label, count in zip(self.count_labels, counts):
            label.configure(text=str(count))

    def close(self) -> None:
        """Cancel pending redraws and predictions so nothing runs after the window closes."""
        for pending in (self._predict_id, self._redraw_id, self._model_load_id):
            if pending is not None:
                self.after_cancel(pending)
        self._predict_id = self._redraw_id = self._model_load_id = None
        self._model_load = None

    def show_startup_errors(self) -> None:
        """Show, once, the model files that failed to load at start-up."""
        if self._startup_errors:
            message, detail = self._startup_errors[0]
            details = [detail, *(f"{more}\n{also}" for more, also in self._startup_errors[1:])]
            messagebox.showerror(
                "Cannot open model", message, detail="\n\n".join(details), parent=self
            )
            self._startup_errors = []

    # ------------------------------------------------------------------------------ handlers

    def _on_pen_down(self, event: tk.Event) -> None:
        """Start a stroke: ink with the left button, paper colour with the right one."""
        if self._stroke_button is not None:
            return
        self._stroke_button = event.num
        self.canvas.focus_set()  # so a text field elsewhere no longer swallows the shortcuts
        erase = event.num == self.right_button
        self.drawing.begin_stroke(self._logical(event), self.brush_width.get(), erase)
        self._on_hover(event)
        self._schedule_redraw()
        self._schedule_prediction()

    def _on_pen_move(self, event: tk.Event) -> None:
        """Extend the stroke under way."""
        self._on_hover(event)
        if self._stroke_button is not None and self.drawing.extend_stroke(self._logical(event)):
            self._schedule_redraw()
            self._schedule_prediction()

    def _on_pen_up(self, event: tk.Event) -> None:
        """Finish the stroke and show the prediction at once."""
        if event.num != self._stroke_button:
            return
        self.drawing.extend_stroke(self._logical(event))
        self._stroke_button = None
        self._drawing_changed()

    def _on_hover(self, event: tk.Event) -> None:
        """Move the brush outline with the pointer (red while erasing)."""
        radius = self.brush_width.get() * self.scale / 2
        erasing = self._stroke_button == self.right_button
        self.canvas.coords(
            self._brush_outline,
            event.x - radius,
            event.y - radius,
            event.x + radius,
            event.y + radius,
        )
        self.canvas.itemconfigure(
            self._brush_outline, outline=ERASER_OUTLINE if erasing else BRUSH_OUTLINE
        )

    def _on_leave_canvas(self, _event: tk.Event) -> None:
        """Hide the brush outline when the pointer leaves the canvas."""
        self.canvas.itemconfigure(self._brush_outline, outline="")

    def _on_bar_clicked(self, event: tk.Event) -> None:
        """Keep the drawing as the digit whose probability bar was clicked."""
        digit = int(event.y // self.bars.row_height)
        if digit in DIGITS:
            self.keep_drawing(digit)

    def _on_brush_changed(self, _value: str | None = None) -> None:
        """Show the brush width next to the slider."""
        self.brush_label.configure(text=f"{self.brush_width.get():.0f} px")

    def _on_model_picked(self, _event: tk.Event) -> None:
        """Switch to the picked model, or ask for a file when Open… was picked."""
        label = self.model_choice.get()
        if label == OPEN_LABEL:
            self.open_model_dialog()
            return
        if label == NO_MODEL_LABEL or (self.model is not None and label == self.model.label):
            return
        entry = self.catalogue.entry(label)
        try:
            entry.load()
        except ModelFileError as error:
            self._show_picker_choice()
            message, detail = dialog_text(error, f"Still using {self._model_name()}.")
            messagebox.showerror("Cannot open model", message, detail=detail, parent=self)
            return
        self._select(entry)

    # ------------------------------------------------------------------------------- helpers

    def _choose_start_model(self, start_model: Path | None) -> None:
        """Use start_model if given and loadable, else the first shipped model that loads."""
        start_error = None
        if start_model is not None:
            known = next((e for e in self.catalogue.entries if e.path == start_model), None)
            try:
                self._select(known or self.catalogue.add_file(start_model))
                return
            except ModelFileError as error:
                start_error = error
        entry, problems = self.catalogue.first_loadable()
        if start_error is not None:
            fallback = START_MODEL_FALLBACK if entry is not None else NO_MODEL_FALLBACK
            self._startup_errors.append(dialog_text(start_error, fallback))
        self._startup_errors.extend((SHIPPED_MODEL_PROBLEM, problem) for problem in problems)
        if entry is not None:
            self._select(entry)
            return
        self._show_picker_choice()
        self.model_info.configure(text=describe_model(None))
        self._build_activation_grids(None)
        self._show_reading()
        self.set_status(
            "No model found: train one on the Train tab or open a model file (Ctrl+O).",
            error=True,
        )

    def _select(self, entry: ModelEntry) -> None:
        """Make entry the current model and read the drawing with it."""
        self.model = entry
        self._read_network = None  # the training tab may hand over the same, updated network
        network = entry.load()
        # A new reader even for the same network: the training tab updates its weights.
        self.reader = DigitReader(network)
        self._show_picker_choice()
        self.model_info.configure(text=describe_model(network))
        self._build_activation_grids(network)
        self._predict_now()
        self.set_status(f"Using {entry.label}.")

    def _show_picker_choice(self) -> None:
        """Refresh the picker's list and show the current model's label in it."""
        labels = self.catalogue.labels or [NO_MODEL_LABEL]
        self.picker.configure(values=[*labels, OPEN_LABEL])
        self.model_choice.set(self._model_name())

    def _model_name(self) -> str:
        """Return the current model's label, or NO_MODEL_LABEL."""
        return NO_MODEL_LABEL if self.model is None else self.model.label

    def _typing(self) -> bool:
        """Return True while keyboard focus is in an editable text field (keys belong to it)."""
        try:
            focus = self.focus_get()
        except KeyError:  # focus in a combobox drop-down, which Tk cannot name
            return True
        if not isinstance(focus, tk.Entry | ttk.Entry | tk.Text | tk.Spinbox):
            return False
        return str(focus.cget("state")) not in ("readonly", "disabled")

    def _logical(self, event: tk.Event) -> tuple[float, float]:
        """Return the event position in logical canvas pixels (independent of HiDPI)."""
        return (event.x / self.scale, event.y / self.scale)

    def _drawing_changed(self) -> None:
        """Redraw the canvas and read the drawing now (after release, undo, clear)."""
        self._redraw_canvas()
        self._predict_now()

    def _schedule_redraw(self) -> None:
        """Redraw the canvas once the pending pointer events are handled."""
        if self._redraw_id is None:
            self._redraw_id = self.after_idle(self._redraw_canvas)

    def _redraw_canvas(self) -> None:
        """Show the off-screen drawing on the canvas; hide the hint once there are strokes."""
        if self._redraw_id is not None:
            self.after_cancel(self._redraw_id)
            self._redraw_id = None
        if self.drawing.version == self._drawn_version:
            return
        self._drawn_version = self.drawing.version
        self._canvas_photo.show(self.drawing.display_image(self.canvas_side))
        self.canvas.itemconfigure(
            self._canvas_hint, state="hidden" if self.drawing.strokes else "normal"
        )

    def _schedule_prediction(self) -> None:
        """Read the drawing within PREDICT_INTERVAL_MS, at most once per interval."""
        if self._predict_id is None:
            self._predict_id = self.after(PREDICT_INTERVAL_MS, self._predict_now)

    def _predict_now(self) -> None:
        """Read the drawing with the current model and show the result everywhere."""
        if self._predict_id is not None:
            self.after_cancel(self._predict_id)
            self._predict_id = None
        network = self.current_model()
        if network is self._read_network and self.drawing.version == self._read_version:
            return  # a throttled reading already caught up after the pen's last move
        started = time.perf_counter()
        reader = self.reader
        self.reading = None if reader is None else reader.read(self.drawing.image())
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._read_network, self._read_version = network, self.drawing.version
        self._show_reading()
        if self.reading is not None:
            self.timing_label.configure(text=f"preprocessed and read in {elapsed_ms:.0f} ms")

    def _show_reading(self) -> None:
        """Show the current reading (or the empty state) in every view."""
        reading = self.reading
        if reading is None:
            self.digit_label.configure(text=EMPTY_DIGIT, foreground=MUTED_TEXT)
            if self.current_model() is None:
                hint = "no model loaded"
            elif too_small_to_read(self.drawing.image()):
                hint = TOO_SMALL_HINT
            else:
                hint = EMPTY_HINT
            self.confidence_label.configure(text=hint)
            self.bars.show(None)
            self.input_view.show(None)
            for view in self.stage_views:
                view.show(None)
            self.shift_label.configure(text="")
            self.timing_label.configure(text="")
            for grid in self.activation_grids:
                grid.show(None)
            return
        stages = reading.preprocessed
        self.digit_label.configure(text=str(reading.digit), foreground="")
        self.confidence_label.configure(text=f"{reading.confidence:.1%} sure")
        self.bars.show(reading.probabilities)
        self.input_view.show(stages.centred)
        for view, image in zip(self.stage_views, (stages.cropped, stages.fitted, stages.centred)):
            view.show(image)
        shift_x, shift_y = stages.centre_shift
        self.shift_label.configure(
            text=f"centring its mass moved it {shift_x:+.1f}, {shift_y:+.1f} px"
        )
        full_scale = activation_full_scale(self.current_model())
        for grid, activations in zip(self.activation_grids, reading.hidden_activations):
            grid.show(activations, full_scale)
