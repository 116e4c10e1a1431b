"""The My digits tab: every kept drawing as a thumbnail, grouped by digit, with its reading.

A drawing the current model reads as another digit has a red frame and its reading in red.
Click a thumbnail to select it; Delete (button or key) removes its file, and Undo delete
(Ctrl+Z) puts the last deleted files back, up to MAX_UNDO of them; Relabel as… or a digit
key moves it to that digit's folder (an atomic rename). Import folder… copies the readable
drawings of a folder in the same layout, Export… copies the whole layout into a chosen folder.
Files that cannot be read are shown as such and listed behind Details…, never a crash.

**Teach the model my digits** fine-tunes the Draw tab's model on these drawings on a background
thread (`app.teach_worker`), shows its progress and, at the end, how well held-back drawings and
MNIST test are read before and after; the taught model is saved in the per-user models folder
and becomes the Draw tab's model ("Default + my digits"). **Reset** goes back to the shipped
model; the shipped files are never written to.

The thumbnails and readings are made off the Tk thread (`app.mydigits_worker`); the tab lays
out one placeholder per file at once (only file names are listed on the Tk thread) and fills
them in from a queue polled every POLL_MS, at most MAX_BATCHES_PER_TICK batches a tick, so
2,000 drawings never freeze the window. The tab reloads when it is shown after the drawings or
the Draw tab's model changed.
"""

from __future__ import annotations

import queue
import threading
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Protocol

from PIL import ImageTk

from app.context import AppContext
from app.models import TeachBase
from app.mydigits_worker import (
    THUMBNAIL_SIDE,
    JobDone,
    JobFailed,
    Message,
    Thumbnail,
    ThumbnailBatch,
    start_file_job,
    start_thumbnail_load,
)
from app.settings import path_value
from app.status import ERROR_COLOUR, show_text_dialog
from app.teach_worker import (
    TeachDone,
    TeachFailed,
    TeachJob,
    TeachMessage,
    TeachProgress,
    TeachStopped,
    start_teaching,
)
from app.train_style import PROGRESS_STYLE
from app.widgets import MUTED_TEXT, PANEL_BACKGROUND, TEXT_COLOUR, Tooltip
from engine.datadir import resolve_data_dir
from engine.finetune import RUN_SAMPLES, FinetuneResult
from engine.modelfile import ModelFileError
from engine.mydigits import DIGITS, DigitStore, ImportResult, StoredDrawing, StoreError
from engine.network import Network
from engine.train import TrainingControl

POLL_MS = 30
MAX_BATCHES_PER_TICK = 2
CELL_WIDTH = 70
CELL_HEIGHT = 82
HEADING_HEIGHT = 30
MARGIN = 10
WRONG_COLOUR = "#d0342c"
SELECTED_COLOUR = "#2f6fdd"
PLACEHOLDER_COLOUR = "#e8ebf0"
FRAME_COLOUR = "#c9ced6"
CANVAS_WIDTH = 900
CANVAS_HEIGHT = 300
# Teaching reports every batch; the bar shows the latest of up to this many per tick.
MAX_TEACH_MESSAGES_PER_TICK = 200
# Deleted drawings kept in memory for Undo delete (a few kB each).
MAX_UNDO = 50
# What the Help menu's shortcut list says of this tab: the keys act on its thumbnails.
SHORTCUTS = [
    ("Click", "Select a drawing"),
    ("Delete", "Delete the selected drawing"),
    ("Ctrl+Z", "Put back the drawing deleted last"),
    ("0 – 9", "Relabel the selected drawing as that digit"),
]
PROGRESS_LENGTH = 220
STAGE_CHARS = 48
RESULT_WRAP = 900
TEACH_TEXT = "Teach the model my digits"
FOLDER_SETTING = "my_digits_folder"
STOP_TEXT = "Stop teaching"


class TaughtModels(Protocol):
    """The Draw tab's side of teaching: what to start from, and which model to use after."""

    def teaching_base(self) -> TeachBase | None:
        """Return the network to teach and where and under which label the result goes."""
        ...

    def use_taught_model(self, path: Path, network: Network, label: str) -> None:
        """Add the taught model to the picker and use it."""
        ...

    def reset_to_shipped(self) -> bool:
        """Use the shipped default model again; return False if there is none."""
        ...


@dataclass
class Cell:
    """One drawing's place on the canvas: its file, its thumbnail once read, and its items."""

    drawing: StoredDrawing
    thumbnail: Thumbnail | None = None
    photo: ImageTk.PhotoImage | None = None
    items: tuple[int, int, int] = (0, 0, 0)  # frame, picture, caption


class MyDigitsTab(ttk.Frame):
    """Show, relabel, delete, import and export the drawings of one My digits folder."""

    def __init__(
        self,
        master: tk.Misc,
        context: AppContext,
        store: DigitStore,
        models: TaughtModels,
        scale: float = 1.0,
    ) -> None:
        self.gap = round(MARGIN * scale)
        super().__init__(master, padding=self.gap)
        self.context = context
        self.store = store
        self.models = models
        self.scale = scale
        # Images seen by each teaching run; tests make it small.
        self.run_samples = RUN_SAMPLES
        self.teach_messages: queue.SimpleQueue[TeachMessage] = queue.SimpleQueue()
        self.teach_control: TrainingControl | None = None
        self.teach_thread: threading.Thread | None = None
        self._teach_poll_id: str | None = None
        self.last_result: FinetuneResult | None = None
        self.cells: list[Cell] = []
        self.selected: Cell | None = None
        # Deleted cells, their files' contents and the load they were shown by, latest last.
        self.deleted: list[tuple[Cell, bytes, int]] = []
        self.notes: list[str] = []
        self.messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self.generation = 0
        self.loaded_for: tuple[int, tuple[Path, ...]] | None = None
        self.loading = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._poll_id: str | None = None
        self._build_toolbar()
        self._build_teach_panel()
        self._build_canvas()
        self._build_footer()
        self.bind("<Map>", self._on_shown)

    # ----------------------------------------------------------------------------- building

    def _build_toolbar(self) -> None:
        """Build the folder line and the Import, Export, Delete and Relabel controls."""
        bar = ttk.Frame(self)
        bar.pack(fill="x", pady=(0, self.gap))
        ttk.Label(bar, text="My digits", style="Heading.TLabel").pack(side="left")
        folder_button = ttk.Button(bar, text="Use another folder…", command=self.folder_dialog)
        folder_button.pack(side="left", padx=(10, 0))
        Tooltip(
            folder_button,
            "Keep and read drawings in another folder from now on (remembered for next time).",
        )
        for text, command, tip in (
            ("Export…", self.export_dialog, "Copy every drawing, in the same layout, to a folder."),
            (
                "Import folder…",
                self.import_dialog,
                "Copy the drawings of a folder laid out as <digit>/<name>.png into My digits.",
            ),
        ):
            button = ttk.Button(bar, text=text, command=command)
            button.pack(side="right", padx=(6, 0))
            Tooltip(button, tip)
        # width=1: a long path takes the room left and never widens the window.
        self.folder_label = ttk.Label(
            bar, text=str(self.store.folder), style="Muted.TLabel", width=1
        )
        self.folder_label.pack(side="left", padx=(10, 0), fill="x", expand=True)
        actions = ttk.Frame(self)
        actions.pack(fill="x", pady=(0, self.gap // 2))
        self.delete_button = ttk.Button(
            actions, text="Delete", command=self.delete_selected, state="disabled"
        )
        self.delete_button.pack(side="left")
        Tooltip(self.delete_button, "Delete the selected drawing's file (Delete key).")
        self.undo_button = ttk.Button(
            actions, text="Undo delete", command=self.undo_delete, state="disabled"
        )
        self.undo_button.pack(side="left", padx=(6, 0))
        Tooltip(self.undo_button, "Put back the drawing deleted last (Ctrl+Z).")
        self.relabel_button = ttk.Menubutton(actions, text="Relabel as…", state="disabled")
        menu = tk.Menu(self.relabel_button, tearoff=False)
        for digit in DIGITS:
            menu.add_command(label=str(digit), command=lambda d=digit: self.relabel_selected(d))
        self.relabel_button.configure(menu=menu)
        self.relabel_button.pack(side="left", padx=(6, 0))
        Tooltip(self.relabel_button, "Move the selected drawing to another digit (its digit key).")
        self.selection_label = ttk.Label(
            actions, text="Click a drawing to select it.", style="Muted.TLabel"
        )
        self.selection_label.pack(side="left", padx=(10, 0))

    def _build_teach_panel(self) -> None:
        """Build the Teach and Reset buttons, the progress bar and the result lines."""
        panel = ttk.Frame(self, style="Card.TFrame", padding=self.gap)
        panel.pack(fill="x", pady=(0, self.gap))
        row = ttk.Frame(panel, style="Inner.TFrame")
        row.pack(fill="x")
        self.teach_button = ttk.Button(row, text=TEACH_TEXT, command=self.toggle_teaching)
        self.teach_button.pack(side="left")
        Tooltip(
            self.teach_button,
            "Fine-tune the Draw tab's model on these drawings, mixed with MNIST so it forgets"
            " nothing; a share of each digit is held back to measure it honestly.",
        )
        self.reset_button = ttk.Button(row, text="Reset to shipped model", command=self.reset)
        self.reset_button.pack(side="left", padx=(6, 0))
        Tooltip(self.reset_button, "Read with the shipped default model again.")
        self.progress = ttk.Progressbar(
            row, length=round(PROGRESS_LENGTH * self.scale), maximum=1.0, style=PROGRESS_STYLE
        )
        self.progress.pack(side="left", padx=(14, 0))
        self.stage_label = ttk.Label(row, text="", style="CardMuted.TLabel", width=STAGE_CHARS)
        self.stage_label.pack(side="left", padx=(8, 0))
        self.result_label = ttk.Label(
            panel,
            text="Teach the model once you have kept a few drawings of each digit (5 each is"
            " plenty).",
            style="Card.TLabel",
            wraplength=round(RESULT_WRAP * self.scale),
            justify="left",
        )
        self.result_label.pack(anchor="w", pady=(6, 0))
        self.warning_label = ttk.Label(
            panel,
            text="",
            style="Card.TLabel",
            foreground=ERROR_COLOUR,
            wraplength=round(RESULT_WRAP * self.scale),
            justify="left",
        )

    def _build_canvas(self) -> None:
        """Build the scrolling canvas that holds the thumbnails."""
        frame = ttk.Frame(self, style="Card.TFrame")
        frame.pack(fill="both", expand=True)
        self.canvas = tk.Canvas(
            frame,
            width=round(CANVAS_WIDTH * self.scale),
            height=round(CANVAS_HEIGHT * self.scale),
            background=PANEL_BACKGROUND,
            highlightthickness=0,
        )
        scrollbar = ttk.Scrollbar(frame, orient="vertical", command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=scrollbar.set)
        scrollbar.pack(side="right", fill="y")
        self.canvas.pack(side="left", fill="both", expand=True)
        self.canvas.bind("<Button-1>", self._on_click)
        self.canvas.bind("<Configure>", self._on_resize)
        self.canvas.bind("<Delete>", lambda _event: self.delete_selected())
        for sequence in ("<Control-z>", "<Control-Z>"):
            self.canvas.bind(sequence, lambda _event: self.undo_delete())
        for digit in DIGITS:
            self.canvas.bind(f"<Key-{digit}>", lambda _event, d=digit: self.relabel_selected(d))
        for sequence, step in (("<Button-4>", -1), ("<Button-5>", 1)):
            self.canvas.bind(sequence, lambda _event, s=step: self.canvas.yview_scroll(s, "units"))
        self.canvas.bind(
            "<MouseWheel>",
            lambda event: self.canvas.yview_scroll(-1 if event.delta > 0 else 1, "units"),
        )
        self._selection_box = self.canvas.create_rectangle(
            0, 0, 0, 0, outline="", width=3, tags="selection"
        )
        self._headings: list[int] = []
        self.columns = 1

    def _build_footer(self) -> None:
        """Build the summary line and the Details… button for skipped files."""
        footer = ttk.Frame(self)
        footer.pack(fill="x", pady=(self.gap // 2, 0))
        self.summary_label = ttk.Label(footer, text="", style="Muted.TLabel")
        self.summary_label.pack(side="left")
        self.details_button = ttk.Button(footer, text="Details…", command=self.show_notes)
        Tooltip(self.details_button, "List the files that were skipped, and why.")

    # ------------------------------------------------------------------------ public actions

    def refresh(self, force: bool = False) -> None:
        """List the drawings and (re)read their thumbnails if the files or the model changed."""
        drawings, notes = self.store.drawings()
        network = self.context.current_model()
        key = (id(network), tuple(drawing.path for drawing in drawings))
        if not force and key == self.loaded_for:
            return
        self.loaded_for = key
        self._stop.set()
        self._stop = threading.Event()
        self.generation += 1
        self.notes = notes
        self.cells = [Cell(drawing) for drawing in drawings]
        self.selected = None
        self._show_selection()
        self._redraw_all()
        self.loading = bool(drawings)
        self._threads = [t for t in self._threads if t.is_alive()]
        if drawings:
            self._threads.append(
                start_thumbnail_load(drawings, network, self.generation, self.messages, self._stop)
            )
        self._show_summary()
        self._schedule_poll()

    def delete_selected(self) -> None:
        """Delete the selected drawing's file and take it off the canvas."""
        cell = self.selected
        if cell is None:
            return
        try:
            content = self.store.remove(cell.drawing)
        except StoreError as error:
            self.context.set_status(f"Could not delete the drawing: {error}.", error=True)
            return
        self.cells.remove(cell)
        for item in cell.items:
            self.canvas.delete(item)
        self.selected = None
        status = f"Deleted the {cell.drawing.label} {cell.drawing.name}."
        if content is not None:
            self.deleted = [*self.deleted, (cell, content, self.generation)][-MAX_UNDO:]
            status += " Ctrl+Z puts it back."
        self._after_change(status)

    def undo_delete(self) -> None:
        """Write the drawing deleted last back to its file and show it again, selected."""
        if not self.deleted:
            return
        cell, content, generation = self.deleted[-1]
        try:
            drawing = self.store.restore(cell.drawing, content)
        except StoreError as error:
            self.context.set_status(f"Could not put the drawing back: {error}.", error=True)
            return
        self.deleted.pop()
        if generation != self.generation:
            # The drawings were listed again since (another model reads them): so is this one.
            self.refresh()
            self.context.set_status(f"Put back the {drawing.label} {drawing.name}.")
            return
        cell.drawing = drawing
        if cell.thumbnail is not None:
            cell.thumbnail = replace(cell.thumbnail, drawing=drawing)
        order = (drawing.label, drawing.name)
        position = sum((c.drawing.label, c.drawing.name) < order for c in self.cells)
        self.cells.insert(position, cell)
        self._create_items(cell)
        self._draw_cell(cell)
        self.selected = cell
        self._after_change(f"Put back the {drawing.label} {drawing.name}.")

    def relabel_selected(self, digit: int) -> None:
        """Move the selected drawing to digit's folder and to that digit's group."""
        cell = self.selected
        if cell is None or digit == cell.drawing.label:
            return
        try:
            moved = self.store.relabel(cell.drawing, digit)
        except StoreError as error:
            self.context.set_status(f"Could not relabel the drawing: {error}.", error=True)
            return
        old_label = cell.drawing.label
        self.cells.remove(cell)
        cell.drawing = moved
        if cell.thumbnail is not None:
            cell.thumbnail = replace(cell.thumbnail, drawing=moved)
        position = max(
            (i + 1 for i, other in enumerate(self.cells) if other.drawing.label <= digit),
            default=0,
        )
        self.cells.insert(position, cell)
        self._draw_cell(cell)
        self._after_change(f"Relabelled a drawing from {old_label} to {digit}.")

    def folder_dialog(self) -> None:
        """Ask for another My digits folder and use it from now on."""
        folder = filedialog.askdirectory(parent=self, title="Use another My digits folder")
        if folder:
            self.use_folder(Path(folder))

    def use_folder(self, folder: Path) -> None:
        """Keep and read drawings in folder from now on (the Draw tab shares the store), and
        remember it for the next start."""
        if self.teaching:
            self.context.set_status("Wait until the teaching ends to change folders.", error=True)
            return
        self.deleted = []  # they belong to the other folder
        self.store.folder = folder
        self.context.settings.put(FOLDER_SETTING, str(folder.resolve()))
        self.folder_label.configure(text=str(folder))
        self.refresh(force=True)
        self.context.set_status(f"My digits are kept in {folder} from now on.")

    def import_dialog(self) -> None:
        """Ask for a folder laid out as <digit>/<name>.png and import its drawings."""
        folder = filedialog.askdirectory(parent=self, title="Import drawings from a folder")
        if folder:
            self.import_folder(Path(folder))

    def import_folder(self, folder: Path) -> None:
        """Copy the readable drawings of folder into My digits, off the Tk thread."""
        self.context.set_status(f"Importing drawings from {folder}…")
        self._start_job("import", lambda: self.store.import_folder(folder))

    def export_dialog(self) -> None:
        """Ask for a folder and copy every drawing into it in the same layout."""
        folder = filedialog.askdirectory(parent=self, title="Export My digits to a folder")
        if folder:
            self.export_to(Path(folder))

    def export_to(self, folder: Path) -> None:
        """Copy every drawing into folder in the same layout, off the Tk thread."""
        self.context.set_status(f"Exporting My digits to {folder}…")
        self._start_job("export", lambda: self.store.export(folder))

    def show_notes(self) -> None:
        """Show every note on skipped files in a dialog."""
        show_text_dialog(self, "Skipped files", "\n".join(self.notes))

    @property
    def teaching(self) -> bool:
        """Return True while the model is being taught."""
        return self.teach_thread is not None and self.teach_thread.is_alive()

    def toggle_teaching(self) -> None:
        """Start teaching the model my digits, or stop the teaching under way."""
        if self.teach_control is not None:
            self.teach_control.stop()
            self.stage_label.configure(text="stopping…")
            return
        try:
            base = self.models.teaching_base()
        except ModelFileError as error:
            self._teach_failed(f"The model cannot be read: {error.summary}")
            return
        if base is None:
            self._teach_failed("There is no model to teach: open or train one first.")
            return
        job = TeachJob(
            base.network,
            base.base_name,
            self.store,
            self._data_folder(),
            base.out_path,
            base.label,
            self.run_samples,
        )
        self.teach_control = TrainingControl()
        self.teach_thread = start_teaching(job, self.teach_messages, self.teach_control)
        self.teach_button.configure(text=STOP_TEXT)
        self.reset_button.configure(state="disabled")
        self.progress.configure(value=0.0)
        self.stage_label.configure(text="starting…")
        self.warning_label.pack_forget()
        self.result_label.configure(text=f"Teaching {base.base_name} your drawings…")
        self.context.set_status("Teaching the model your digits…")
        self._teach_poll_id = self.after(POLL_MS, self._poll_teaching)

    def reset(self) -> None:
        """Read with the shipped default model again (the taught model stays in the picker)."""
        if self.models.reset_to_shipped():
            self.context.set_status(
                "Using the shipped default model again; the taught one stays in the picker."
            )
        else:
            self.context.set_status("The shipped default model is missing.", error=True)

    def close(self) -> None:
        """Stop the background work and the polling, so nothing runs after the window closes."""
        self._stop.set()
        if self.teach_control is not None:
            self.teach_control.stop()
        for pending in (self._poll_id, self._teach_poll_id):
            if pending is not None:
                self.after_cancel(pending)
        self._poll_id = self._teach_poll_id = None
        for thread in [*self._threads, self.teach_thread]:
            if thread is not None:
                thread.join(timeout=1.0)

    # ------------------------------------------------------------------------------ handlers

    def _on_shown(self, _event: tk.Event) -> None:
        """Reload when the tab is shown and the drawings or the model changed."""
        self.refresh()

    def _on_click(self, event: tk.Event) -> None:
        """Select the drawing under the pointer (or nothing)."""
        self.canvas.focus_set()
        x, y = self.canvas.canvasx(event.x), self.canvas.canvasy(event.y)
        self.selected = next(
            (cell for cell in self.cells if _inside(self.canvas.bbox(cell.items[0]), x, y)), None
        )
        self._show_selection()

    def _on_resize(self, event: tk.Event) -> None:
        """Lay the thumbnails out again when the number of columns changes."""
        columns = max(1, (event.width - 2 * self.gap) // round(CELL_WIDTH * self.scale))
        if columns != self.columns:
            self.columns = columns
            self._place_all()

    # ------------------------------------------------------------------------------- helpers

    def _data_folder(self) -> Path:
        """Return the MNIST folder: --data, else the Train tab's chosen one, else the default."""
        chosen = self.context.settings.get("data_folder", path_value)
        return resolve_data_dir(self.context.data_dir or chosen)

    def _poll_teaching(self) -> None:
        """Show the teaching's progress; handle its end."""
        self._teach_poll_id = None
        latest: TeachProgress | None = None
        for _ in range(MAX_TEACH_MESSAGES_PER_TICK):
            try:
                message = self.teach_messages.get_nowait()
            except queue.Empty:
                break
            if isinstance(message, TeachProgress):
                latest = message
                continue
            self._teaching_ended(message)
            return
        if latest is not None:
            self.progress.configure(value=latest.fraction)
            self.stage_label.configure(text=latest.stage)
        self._teach_poll_id = self.after(POLL_MS, self._poll_teaching)

    def _teaching_ended(self, message: TeachMessage) -> None:
        """Show how the teaching ended and make the taught model the Draw tab's model."""
        self.teach_control = None
        self.teach_button.configure(text=TEACH_TEXT)
        self.reset_button.configure(state="normal")
        if isinstance(message, TeachStopped):
            self.progress.configure(value=0.0)
            self.stage_label.configure(text="")
            self.result_label.configure(text="Teaching stopped; nothing was saved.")
            self.context.set_status("Teaching stopped; nothing was saved.")
            return
        if isinstance(message, TeachFailed):
            self._teach_failed(message.message)
            return
        if not isinstance(message, TeachDone):
            return
        result = message.result
        self.last_result = result
        self.progress.configure(value=1.0)
        self.stage_label.configure(text="done")
        self.result_label.configure(text=result_text(result, message.path))
        if message.warning:
            self.warning_label.configure(text=message.warning)
            self.warning_label.pack(anchor="w", pady=(4, 0))
        self.models.use_taught_model(message.path, result.network, message.label)
        without = "Taught without MNIST (see the warning). " if message.warning else ""
        self.context.set_status(
            f"{without}The Draw tab now reads with {message.label} (saved as {message.path.name}).",
            error=bool(message.warning),
        )
        self.refresh(force=True)

    def _teach_failed(self, text: str) -> None:
        """Show why teaching could not be done."""
        self.progress.configure(value=0.0)
        self.stage_label.configure(text="")
        self.result_label.configure(text=text)
        self.context.set_status(text, error=True)

    def _start_job(self, kind: str, job: Callable[[], ImportResult]) -> None:
        """Run an import or export on a background thread and poll for its end."""
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(start_file_job(kind, job, self.generation, self.messages))
        self._schedule_poll()

    def _schedule_poll(self) -> None:
        """Look at the queue within POLL_MS unless a look is already pending."""
        if self._poll_id is None:
            self._poll_id = self.after(POLL_MS, self._poll)

    def _poll(self) -> None:
        """Handle a few messages; keep polling while work is going on."""
        self._poll_id = None
        for _ in range(MAX_BATCHES_PER_TICK):
            try:
                message = self.messages.get_nowait()
            except queue.Empty:
                break
            self._handle(message)
        busy = any(thread.is_alive() for thread in self._threads)
        if self.loading or busy or not self.messages.empty():
            self._schedule_poll()

    def _handle(self, message: Message) -> None:
        """Show one message of a worker."""
        if isinstance(message, ThumbnailBatch):
            if message.generation == self.generation:
                self._show_thumbnails(message.thumbnails)
            return
        if isinstance(message, JobFailed):
            self.context.set_status(f"Could not {message.kind}: {message.message}.", error=True)
            return
        if isinstance(message, JobDone):
            self._job_done(message)

    def _job_done(self, message: JobDone) -> None:
        """Say how an import or export went and show the drawings as they now are."""
        result = message.result
        verb = "Imported" if message.kind == "import" else "Exported"
        skipped = f"; {len(result.notes)} skipped (see Details…)" if result.notes else ""
        self.context.set_status(f"{verb} {result.copied} drawings{skipped}.")
        self.refresh(force=True)
        self.notes = [*self.notes, *result.notes]
        self._show_summary()

    def _show_thumbnails(self, thumbnails: tuple[Thumbnail, ...]) -> None:
        """Fill the placeholders of thumbnails that have been read."""
        by_path = {cell.drawing.path: cell for cell in self.cells if cell.thumbnail is None}
        for thumbnail in thumbnails:
            cell = by_path.get(thumbnail.drawing.path)
            if cell is None:
                continue
            cell.thumbnail = thumbnail
            if thumbnail.problem:
                self.notes.append(
                    f"skipped {thumbnail.drawing.label}/{thumbnail.drawing.name}:"
                    f" {thumbnail.problem}"
                )
            self._draw_cell(cell)
        if all(cell.thumbnail is not None for cell in self.cells):
            self.loading = False
            self._place_all()  # the headings count the drawings read as another digit
        self._show_summary()

    def _after_change(self, status: str) -> None:
        """Lay out again after a delete or relabel and remember the listing as current."""
        network = self.context.current_model()
        self.loaded_for = (id(network), tuple(cell.drawing.path for cell in self.cells))
        self._show_selection()
        self._place_all()
        self._show_summary()
        self.context.set_status(status)

    def _redraw_all(self) -> None:
        """Delete every thumbnail item and create one placeholder per cell."""
        self.canvas.delete("cell")
        for cell in self.cells:
            self._create_items(cell)
        self._place_all()

    def _create_items(self, cell: Cell) -> None:
        """Create a cell's canvas items as a placeholder (placed by `_place_all`)."""
        frame = self.canvas.create_rectangle(
            0, 0, 0, 0, fill=PLACEHOLDER_COLOUR, outline=FRAME_COLOUR, tags="cell"
        )
        picture = self.canvas.create_image(0, 0, anchor="nw", tags="cell")
        caption = self.canvas.create_text(
            0, 0, text="", fill=MUTED_TEXT, font="TkSmallCaptionFont", tags="cell"
        )
        cell.items = (frame, picture, caption)
        cell.photo = None

    def _draw_cell(self, cell: Cell) -> None:
        """Show a cell's thumbnail and its reading (red when the model reads another digit)."""
        frame, picture, caption = cell.items
        thumbnail = cell.thumbnail
        if thumbnail is None:
            return
        if thumbnail.image is None:
            self.canvas.itemconfigure(frame, fill=PLACEHOLDER_COLOUR, outline=FRAME_COLOUR)
            self.canvas.itemconfigure(caption, text="unreadable", fill=MUTED_TEXT)
            return
        cell.photo = ImageTk.PhotoImage(thumbnail.image)
        self.canvas.itemconfigure(picture, image=cell.photo)
        wrong = thumbnail.reading is not None and thumbnail.reading != cell.drawing.label
        self.canvas.itemconfigure(
            frame,
            fill=PANEL_BACKGROUND,
            outline=WRONG_COLOUR if wrong else FRAME_COLOUR,
            width=3 if wrong else 1,
        )
        text = "" if thumbnail.reading is None else f"reads {thumbnail.reading}"
        self.canvas.itemconfigure(caption, text=text, fill=WRONG_COLOUR if wrong else MUTED_TEXT)

    def _place_all(self) -> None:
        """Put every cell in its digit's group: a heading per digit, then rows of thumbnails."""
        for heading in self._headings:
            self.canvas.delete(heading)
        self._headings = []
        cell_width = round(CELL_WIDTH * self.scale)
        cell_height = round(CELL_HEIGHT * self.scale)
        heading_height = round(HEADING_HEIGHT * self.scale)
        side = round(THUMBNAIL_SIDE * self.scale)
        y = self.gap
        for digit in DIGITS:
            group = [cell for cell in self.cells if cell.drawing.label == digit]
            if not group:
                continue
            wrong = sum(
                1
                for cell in group
                if cell.thumbnail is not None
                and cell.thumbnail.reading is not None
                and cell.thumbnail.reading != digit
            )
            title = f"{digit}  ·  {len(group)} drawing{'s' if len(group) != 1 else ''}"
            if wrong:
                title += f", {wrong} read as another digit"
            self._headings.append(
                self.canvas.create_text(
                    self.gap,
                    y + heading_height // 2,
                    text=title,
                    anchor="w",
                    fill=TEXT_COLOUR,
                    font="HeadingFont",
                )
            )
            y += heading_height
            for index, cell in enumerate(group):
                row, column = divmod(index, self.columns)
                left = self.gap + column * cell_width
                top = y + row * cell_height
                frame, picture, caption = cell.items
                self.canvas.coords(frame, left, top, left + side + 3, top + side + 3)
                self.canvas.coords(picture, left + 2, top + 2)
                self.canvas.coords(caption, left + side // 2 + 2, top + side + 13)
            y += -(-len(group) // self.columns) * cell_height + self.gap
        if not self.cells:
            self._headings.append(
                self.canvas.create_text(
                    self.gap,
                    self.gap + heading_height // 2,
                    anchor="w",
                    fill=MUTED_TEXT,
                    text="No drawings yet: on the Draw tab, draw a digit and press its key"
                    " (0–9) to keep it here.",
                )
            )
        self.canvas.configure(scrollregion=(0, 0, self.canvas.winfo_width(), y))
        self._show_selection()

    def _show_selection(self) -> None:
        """Frame the selected drawing and enable the actions on it."""
        cell = self.selected
        state = "disabled" if cell is None else "normal"
        self.delete_button.configure(state=state)
        self.relabel_button.configure(state=state)
        self.undo_button.configure(state="normal" if self.deleted else "disabled")
        if cell is None:
            self.canvas.itemconfigure(self._selection_box, outline="")
            self.selection_label.configure(text="Click a drawing to select it.")
            return
        left, top, right, bottom = self.canvas.coords(cell.items[0])
        self.canvas.coords(self._selection_box, left - 3, top - 3, right + 3, bottom + 3)
        self.canvas.itemconfigure(self._selection_box, outline=SELECTED_COLOUR)
        self.canvas.tag_raise(self._selection_box)
        reading = cell.thumbnail.reading if cell.thumbnail is not None else None
        read = "" if reading is None else f", read as {reading}"
        self.selection_label.configure(
            text=f"Selected: a {cell.drawing.label}{read} ({cell.drawing.name}). Delete, or"
            " press a digit to relabel it."
        )

    def _show_summary(self) -> None:
        """Say how many drawings there are, how many are read wrong, and what was skipped."""
        total = len(self.cells)
        read = [cell for cell in self.cells if cell.thumbnail is not None]
        wrong = sum(
            1
            for cell in read
            if cell.thumbnail.reading is not None and cell.thumbnail.reading != cell.drawing.label
        )
        parts = [f"{total} drawing{'s' if total != 1 else ''}"]
        if self.loading:
            parts.append(f"reading {len(read)} of {total}…")
        elif total:
            parts.append(f"{wrong} read as another digit by the current model")
        if self.notes:
            parts.append(f"{len(self.notes)} file{'s' if len(self.notes) != 1 else ''} skipped")
            self.details_button.pack(side="left", padx=(8, 0))
        else:
            self.details_button.pack_forget()
        self.summary_label.configure(text=" · ".join(parts))


def result_text(result: FinetuneResult, path: Path) -> str:
    """Return the lines shown after teaching: the engine's before/after figures and the file."""
    lines = [
        f"Taught {result.samples} drawings in {result.seconds:.1f} s; saved as {path}.",
    ]
    if result.heldout:
        lines.append(
            f"Your {result.heldout} held-back drawings, never taught to the check model:"
            f" {_percent(result.heldout_accuracy_before)} read right before,"
            f" {_percent(result.heldout_accuracy_after)} after."
        )
    else:
        lines.append("Too few drawings to hold any back, so there is no before/after check.")
    if result.mnist_accuracy_before is not None:
        lines.append(
            f"MNIST test: {_percent(result.mnist_accuracy_before, 2)} before,"
            f" {_percent(result.mnist_accuracy_after, 2)} after."
        )
    return "\n".join(lines)


def _percent(value: float | None, decimals: int = 1) -> str:
    """Return a 0..1 fraction as a percentage, or "n/a"."""
    return "n/a" if value is None else f"{value:.{decimals}%}"


def _inside(box: tuple[int, int, int, int] | None, x: float, y: float) -> bool:
    """Return True if (x, y) lies in box (left, top, right, bottom)."""
    return box is not None and box[0] <= x <= box[2] and box[1] <= y <= box[3]
