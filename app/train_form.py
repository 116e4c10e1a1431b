"""The Train tab's settings form: the network to train and how to train it.

A card with the architecture (preset, hidden layers, activation, output), the choice between a
new network and the Draw tab's model, the three live knobs (the learning-rate slider on a log
scale, momentum and weight decay: their values start a run and moving them steers it), schedule,
batch size, epochs, training-set size, augmentation and the cores to train on. `settings()`
turns the fields into a `TrainSettings`; the tab calls `set_running` to lock what cannot change
mid-run and hears about knob moves through `on_learning_rate`, `on_momentum` and
`on_weight_decay`.
"""

from __future__ import annotations

import os
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from app.settings import choice, flag, number, record, text, whole
from app.train_style import CHECK_STYLE, RADIO_STYLE
from app.training_worker import (
    BATCH_SIZES,
    LEARNING_RATE_MAX,
    LEARNING_RATE_MIN,
    TRAINING_SIZES,
    Architecture,
    Preset,
    TrainSettings,
    architecture_presets,
    describe_size,
    learning_rate_at,
    slider_position,
)
from app.widgets import Tooltip
from engine.activations import ACTIVATIONS
from engine.network import LOSSES, Network
from engine.train import MAX_WORKERS, SCHEDULES, TrainConfig

RATE_SLIDER_LENGTH = 130
# The knobs' stops: plain SGD up to heavy momentum; no weight decay up to a strong pull to 0.
MOMENTUM_STEPS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
WEIGHT_DECAY_STEPS = (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
DEFAULT_EPOCHS = 3
MAX_EPOCHS = 100
DEFAULT_TRAINING_SIZE = 10_000
CUSTOM_PRESET = "Custom"
LOSS_LABELS = {"cross_entropy": "softmax + cross-entropy", "mse": "sigmoid + squared error"}
START_NEW = "new"
START_LOADED = "loaded"
# Up to ten hidden layers of up to 99,999 units; the engine checks the sizes again.
HIDDEN_PATTERN = r"\d{1,5}(-\d{1,5}){0,9}"


def available_cores() -> int:
    """Return how many cores training may use: all of this computer's, up to MAX_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def remembered_fields(presets: dict[str, Preset]) -> Callable[[object], dict]:
    """Return the check of the form's remembered values (see `app.settings`)."""
    return record(
        {
            "preset": choice(presets),
            "hidden": text(HIDDEN_PATTERN),
            "activation": choice(ACTIVATIONS),
            "loss": choice(LOSSES),
            "learning_rate": number(LEARNING_RATE_MIN, LEARNING_RATE_MAX),
            "momentum": choice(MOMENTUM_STEPS),
            "weight_decay": choice(WEIGHT_DECAY_STEPS),
            "schedule": choice(SCHEDULES),
            "batch_size": choice(BATCH_SIZES),
            "epochs": whole(1, MAX_EPOCHS),
            "train_images": choice(TRAINING_SIZES),
            "augment": flag,
            "add_my_digits": flag,
            "cores": whole(1, MAX_WORKERS),
        }
    )


def format_knob(value: float) -> str:
    """Return a knob's value as its label shows it: "off" for 0, else "0.9" or "0.0001"."""
    return "off" if value == 0 else f"{value:g}"


class SteppedSlider(ttk.Frame):
    """A slider that stops only at `steps`, with a label of its value; `on_change(value)` hears
    every move a person makes (not `show`)."""

    def __init__(
        self,
        master: tk.Misc,
        steps: tuple[float, ...],
        length: int,
        on_change: Callable[[float], None],
    ) -> None:
        super().__init__(master, style="Inner.TFrame")
        self.steps = steps
        self.on_change = on_change
        self.position = tk.DoubleVar(self, 0.0)
        self.scale = ttk.Scale(
            self,
            from_=0,
            to=len(steps) - 1,
            variable=self.position,
            command=self._on_move,
            length=length,
        )
        self.scale.pack(side="left", fill="x", expand=True)
        self.label = ttk.Label(self, text="", width=6, style="Card.TLabel", anchor="e")
        self.label.pack(side="left")
        self.show(steps[0])

    @property
    def value(self) -> float:
        """Return the step the slider is at."""
        return self.steps[round(self.position.get())]

    def show(self, value: float) -> None:
        """Move the slider to the step nearest value without reporting it."""
        index = min(range(len(self.steps)), key=lambda i: abs(self.steps[i] - value))
        self.position.set(index)
        self.label.configure(text=format_knob(self.steps[index]))

    def _on_move(self, _value: str) -> None:
        """Snap to the nearest step and report it when the value changed."""
        shown = self.label.cget("text")
        self.position.set(round(self.position.get()))
        self.label.configure(text=format_knob(self.value))
        if self.label.cget("text") != shown:
            self.on_change(self.value)


class SettingsForm(ttk.Frame):
    """Hold the fields that say what network to train and how."""

    def __init__(
        self,
        master: tk.Misc,
        gap: int,
        scale: float,
        loaded_model: Callable[[], Network | None],
        on_learning_rate: Callable[[float], None],
        on_momentum: Callable[[float], None],
        on_weight_decay: Callable[[float], None],
    ) -> None:
        super().__init__(master, style="Card.TFrame", padding=gap)
        self.scale = scale
        self.loaded_model = loaded_model
        self.on_learning_rate = on_learning_rate
        self.on_momentum = on_momentum
        self.on_weight_decay = on_weight_decay
        self.presets = architecture_presets()
        self._applying_preset = False
        self._shown_rate: float | None = None
        self._row = 0
        self.columnconfigure(1, weight=1)
        self._build_variables()
        self._build_network_fields()
        self._build_training_fields()
        self.apply_preset(next(iter(self.presets)))

    # ----- building ---------------------------------------------------------------------------

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
        self.add_my_digits = tk.BooleanVar(self, False)
        self.cores = tk.StringVar(self, str(available_cores()))

    def _build_network_fields(self) -> None:
        """Build the Network section: preset, hidden layers, activation, output, start."""
        self._heading("Network")
        self.preset_box = self._combobox(
            "Preset", self.preset, [*self.presets, CUSTOM_PRESET], width=26
        )
        self.preset_box.bind("<<ComboboxSelected>>", self._on_preset)
        self.hidden_entry = ttk.Entry(self, textvariable=self.hidden, width=12)
        self._labelled("Hidden layers", self.hidden_entry)
        Tooltip(self.hidden_entry, "Sizes of the hidden layers joined by '-', e.g. 16-16 or 128.")
        self.activation_box = self._combobox("Activation", self.activation, ACTIVATIONS)
        self.loss_box = self._combobox(
            "Output", self.loss, [LOSS_LABELS[loss] for loss in LOSSES], width=22
        )
        for variable in (self.hidden, self.activation, self.loss):
            variable.trace_add("write", self._on_shape_edit)
        self._build_start_choice()

    def _build_start_choice(self) -> None:
        """Build the choice between a new network and continuing the drawing tab's model."""
        choices = ttk.Frame(self, style="Inner.TFrame")
        self._labelled("Start from", choices, label_sticky="nw")
        # Both choices on one line: the form must leave the window short enough for a laptop.
        buttons = ttk.Frame(choices, style="Inner.TFrame")
        buttons.pack(anchor="w")
        self.start_new, self.start_loaded = (
            ttk.Radiobutton(
                buttons,
                text=text,
                value=value,
                variable=self.start_from,
                command=self.refresh_start_choice,
                style=RADIO_STYLE,
            )
            for text, value in (("a new network", START_NEW), ("the loaded model", START_LOADED))
        )
        self.start_new.pack(side="left")
        self.start_loaded.pack(side="left", padx=(10, 0))
        self.loaded_label = ttk.Label(choices, text="", style="CardMuted.TLabel")
        self.loaded_label.pack(anchor="e")
        Tooltip(self.start_loaded, "Go on training the model the Draw tab is using.")

    def _build_training_fields(self) -> None:
        """Build the Settings section: learning rate, schedule, batch, epochs, images, augment."""
        self._heading("Settings")
        self._build_rate_slider()
        length = round(RATE_SLIDER_LENGTH * self.scale)
        self.momentum_slider = SteppedSlider(self, MOMENTUM_STEPS, length, self.on_momentum)
        self._labelled("Momentum", self.momentum_slider, sticky="ew")
        Tooltip(
            self.momentum_slider.scale,
            "Each step keeps this share of the last one's direction: smoother, faster progress,"
            " but it wants a smaller learning rate (0.05 with 0.9). Live during training.",
        )
        self.decay_slider = SteppedSlider(self, WEIGHT_DECAY_STEPS, length, self.on_weight_decay)
        self._labelled("Weight decay", self.decay_slider, sticky="ew")
        Tooltip(
            self.decay_slider.scale,
            "L2 regularisation: every step shrinks each weight by this share of the learning"
            " rate, so no weight grows large without need. Live during training.",
        )
        self.schedule_box = self._combobox("Schedule", self.schedule, SCHEDULES)
        Tooltip(self.schedule_box, "How the learning rate falls over the run.")
        # Batch size and epochs share a row, so the form with its knobs fits a 768-px screen.
        row = ttk.Frame(self, style="Inner.TFrame")
        self._labelled("Batch size", row)
        self.batch_box = ttk.Combobox(
            row,
            textvariable=self.batch_size,
            values=[str(size) for size in BATCH_SIZES],
            state="readonly",
            width=6,
        )
        self.batch_box.pack(side="left")
        ttk.Label(row, text="Epochs", style="Card.TLabel").pack(side="left", padx=(12, 8))
        self.epochs_box = ttk.Spinbox(
            row, from_=1, to=MAX_EPOCHS, textvariable=self.epochs, width=5
        )
        self.epochs_box.pack(side="left")
        self.size_box = self._combobox(
            "Training images",
            self.training_size,
            [describe_size(size) for size in TRAINING_SIZES],
            width=14,
        )
        self.augment_check = ttk.Checkbutton(
            self,
            text="Augment (shift, rotate, bend, vary strokes)",
            variable=self.augment,
            style=CHECK_STYLE,
        )
        self.augment_check.grid(row=self._next_row(), column=0, columnspan=2, sticky="w", pady=2)
        self._build_cores_field()

    def _build_cores_field(self) -> None:
        """Build the Cores field (how many worker processes train the network together) and,
        beside it to keep the form short, the Add my digits check box."""
        row = ttk.Frame(self, style="Inner.TFrame")
        self._labelled("Cores", row, sticky="ew")
        self.cores_box = ttk.Spinbox(
            row, from_=1, to=available_cores(), textvariable=self.cores, width=6
        )
        self.cores_box.pack(side="left")
        self.my_digits_check = ttk.Checkbutton(
            row, text="Add my digits", variable=self.add_my_digits, style=CHECK_STYLE
        )
        self.my_digits_check.pack(side="left", padx=(16, 0))
        Tooltip(
            self.my_digits_check,
            "Train on the drawings kept in My digits too, each repeated so that together they"
            " make about 5% of the training images.",
        )
        Tooltip(
            self.cores_box,
            "Worker processes that train together, each on a share of the images, adding up"
            " their changes every few batches. With 1, a run repeats exactly.",
        )

    def _build_rate_slider(self) -> None:
        """Build the learning-rate slider (log scale) and the label showing its value."""
        row = ttk.Frame(self, style="Inner.TFrame")
        self._labelled("Learning rate", row, sticky="ew")
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

    def _heading(self, text: str) -> None:
        """Add a section heading."""
        top = 0 if self._row == 0 else 10
        ttk.Label(self, text=text, style="CardHeading.TLabel").grid(
            row=self._next_row(), column=0, columnspan=2, sticky="w", pady=(top, 2)
        )

    def _combobox(
        self,
        label: str,
        variable: tk.StringVar,
        values: list[str] | tuple[str, ...],
        width: int = 10,
    ) -> ttk.Combobox:
        """Add a labelled read-only drop-down list."""
        box = ttk.Combobox(
            self, textvariable=variable, values=list(values), state="readonly", width=width
        )
        self._labelled(label, box)
        return box

    def _labelled(
        self, label: str, widget: tk.Widget, sticky: str = "w", label_sticky: str = "w"
    ) -> None:
        """Add a widget with its label on the next row."""
        row = self._next_row()
        ttk.Label(self, text=label, style="Card.TLabel").grid(
            row=row, column=0, sticky=label_sticky, pady=1, padx=(0, 8)
        )
        widget.grid(row=row, column=1, sticky=sticky, pady=1)

    def _next_row(self) -> int:
        """Return the next free row."""
        self._row += 1
        return self._row - 1

    # ----- what the tab asks ------------------------------------------------------------------

    @property
    def learning_rate(self) -> float:
        """Return the learning rate the slider shows."""
        if self._shown_rate is not None:
            return self._shown_rate
        return learning_rate_at(self.rate_position.get())

    @property
    def momentum(self) -> float:
        """Return the momentum its slider shows."""
        return self.momentum_slider.value

    @property
    def weight_decay(self) -> float:
        """Return the weight decay its slider shows."""
        return self.decay_slider.value

    def settings(self) -> TrainSettings:
        """Return the form's settings; raise ValueError with a readable reason if one is bad."""
        loss = next(key for key, label in LOSS_LABELS.items() if label == self.loss.get())
        try:
            epochs = int(self.epochs.get())
        except ValueError:
            raise ValueError(f"epochs must be a whole number, not {self.epochs.get()!r}") from None
        most = available_cores()
        if not self.cores.get().isdigit() or not 1 <= int(self.cores.get()) <= most:
            raise ValueError(f"cores must be a whole number from 1 to {most}")
        return TrainSettings(
            architecture=Architecture(self.hidden.get(), self.activation.get(), loss),
            continue_loaded=self.start_from.get() == START_LOADED,
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            batch_size=int(self.batch_size.get()),
            epochs=epochs,
            train_images=TRAINING_SIZES[self.size_box.current()],
            augment=self.augment.get(),
            add_my_digits=self.add_my_digits.get(),
            schedule=self.schedule.get(),
            cores=int(self.cores.get()),
        )

    def values(self) -> dict[str, object]:
        """Return the fields as plain values to remember (bad ones are left out)."""
        values: dict[str, object] = {
            "preset": self.preset.get(),
            "hidden": self.hidden.get(),
            "activation": self.activation.get(),
            "loss": next((k for k, v in LOSS_LABELS.items() if v == self.loss.get()), ""),
            "learning_rate": self.learning_rate,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "schedule": self.schedule.get(),
            "batch_size": int(self.batch_size.get()),
            "train_images": TRAINING_SIZES[self.size_box.current()],
            "augment": self.augment.get(),
            "add_my_digits": self.add_my_digits.get(),
        }
        if self.epochs.get().isdigit():
            values["epochs"] = int(self.epochs.get())
        if self.cores.get().isdigit():
            values["cores"] = int(self.cores.get())
        return values

    def restore(self, values: dict) -> None:
        """Fill the fields from remembered values, already checked by `remembered_fields`."""
        if values.get("preset") in self.presets:
            self.apply_preset(values["preset"])
        for name, variable in (("hidden", self.hidden), ("activation", self.activation)):
            if name in values:
                variable.set(values[name])
        if "loss" in values:
            self.loss.set(LOSS_LABELS[values["loss"]])
        if "learning_rate" in values:
            self.show_learning_rate(values["learning_rate"])
        if "momentum" in values:
            self.momentum_slider.show(values["momentum"])
        if "weight_decay" in values:
            self.decay_slider.show(values["weight_decay"])
        if "schedule" in values:
            self.schedule.set(values["schedule"])
        for name, variable in (("batch_size", self.batch_size), ("epochs", self.epochs)):
            if name in values:
                variable.set(str(values[name]))
        if "train_images" in values:
            self.training_size.set(describe_size(values["train_images"]))
        if "augment" in values:
            self.augment.set(values["augment"])
        if "add_my_digits" in values:
            self.add_my_digits.set(values["add_my_digits"])
        if "cores" in values:
            self.cores.set(str(min(values["cores"], available_cores())))

    def set_running(self, running: bool) -> None:
        """Lock the fields a run cannot change while it runs (the three knobs stay live)."""
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
            self.my_digits_check,
            self.cores_box,
        ]
        for widget in fixed:
            widget.state(["disabled"] if running else ["!disabled"])
        if not running:
            self.refresh_start_choice()

    def apply_preset(self, name: str) -> None:
        """Fill the network fields and the learning rate from a preset."""
        preset = self.presets[name]
        self._applying_preset = True
        self.hidden.set(preset.architecture.hidden)
        self.activation.set(preset.architecture.activation)
        self.loss.set(LOSS_LABELS[preset.architecture.loss])
        self._applying_preset = False
        self.preset.set(name)
        self.show_learning_rate(preset.learning_rate)

    def show_learning_rate(self, rate: float) -> None:
        """Move the slider to rate without telling a running training (it chose the rate).

        The label and `learning_rate` keep the rate itself, also one between the slider's
        round stops (a recovered divergence halves 1.5 to 0.75), until the slider is moved.
        """
        self.rate_position.set(slider_position(rate))
        self._shown_rate = rate
        self.rate_label.configure(text=f"{rate:.3g}")

    def refresh_start_choice(self) -> None:
        """Enable the architecture fields only for a new network; describe the loaded model."""
        new = self.start_from.get() == START_NEW
        for widget in (self.preset_box, self.hidden_entry, self.activation_box, self.loss_box):
            widget.state(["!disabled"] if new else ["disabled"])
        loaded = self.loaded_model()
        description = "none" if loaded is None else f"{loaded.architecture}, {loaded.activation}"
        self.loaded_label.configure(text=description)

    # ----- event handlers ---------------------------------------------------------------------

    def _on_preset(self, _event: tk.Event) -> None:
        """Apply the chosen preset (choosing Custom keeps the fields as they are)."""
        if self.preset.get() in self.presets:
            self.apply_preset(self.preset.get())

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

    def _on_rate_slider(self, value: str) -> None:
        """Show the slider's learning rate and pass it on to the tab."""
        rate = learning_rate_at(float(value))
        self._shown_rate = None
        self.rate_label.configure(text=f"{rate:g}")
        self.on_learning_rate(rate)
