"""The Digits window: menus, the Draw and Train tabs, and the status bar.

`main(argv)` parses the options, builds the window and runs Tk's event loop; tests call
`create_app(argv)` instead and drive the window themselves. Tabs meet only through the
`AppContext` built here.
"""

from __future__ import annotations

import argparse
import sys
import tkinter as tk
from pathlib import Path
from tkinter import font as tkfont
from tkinter import messagebox, ttk

from app.context import AppContext
from app.desktop import icon_files, run_desktop_command
from app.draw_tab import SHORTCUTS as DRAW_SHORTCUTS
from app.draw_tab import DrawTab
from app.drawing import MAX_BRUSH_WIDTH, MIN_BRUSH_WIDTH
from app.models import ModelCatalogue
from app.mydigits_tab import FOLDER_SETTING, MyDigitsTab
from app.mydigits_tab import SHORTCUTS as MY_DIGITS_SHORTCUTS
from app.settings import SettingsStore, choice, number, path_value, record, settings_path, whole
from app.status import STATUS_BUTTON_STYLE, StatusBar
from app.train_tab import TrainTab
from app.widgets import MUTED_TEXT, PANEL_BACKGROUND, TEXT_COLOUR, screen_scale
from engine.datadir import resolve_my_digits_dir, user_models_dir
from engine.distribution import version_line
from engine.mydigits import DigitStore
from engine.network import Network

APP_TITLE = "Digits"
PROGRAM_NAME = "digits"
# Window-manager icon sizes: the title bar and task switcher pick the nearest one.
WINDOW_ICON_SIZES = (16, 32, 48, 64, 128, 256)
WINDOW_BACKGROUND = "#eef0f3"
CARD_BORDER = "#d5dae2"
ACCENT = "#2f6fdd"
PREFERRED_THEME = "clam"
APP_SHORTCUTS = [
    ("Ctrl+Tab", "Next tab"),
    ("F1", "This list"),
    ("Ctrl+Q", "Quit"),
]
SHORTCUT_SECTIONS = (
    ("Draw tab", DRAW_SHORTCUTS),
    ("My digits tab", MY_DIGITS_SHORTCUTS),
    ("Anywhere", APP_SHORTCUTS),
)
TAB_NAMES = ("draw", "train", "mydigits")
MAX_WINDOW_SIDE = 20_000
WINDOW_CHECK = record(
    {
        "width": whole(1, MAX_WINDOW_SIDE),
        "height": whole(1, MAX_WINDOW_SIDE),
        "tab": choice(TAB_NAMES),
    }
)
ABOUT_TEXT = (
    "Digits: draw a digit and watch a neural network written in pure Python read it.\n\n"
    "The network is plain Python lists and loops; Pillow only draws and resizes images."
)


class DigitsApp:
    """Build the window around the tabs and close it cleanly."""

    def __init__(self, root: tk.Tk, options: argparse.Namespace) -> None:
        self.root = root
        self.scale = screen_scale(root)
        root.title(APP_TITLE)
        self._build_fonts()
        self._build_style()
        self._build_icon()
        self.settings = SettingsStore(options.settings)
        self.settings.load()
        self._build_status_bar()
        self._build_notebook(options)
        self._build_menu()
        root.protocol("WM_DELETE_WINDOW", self.quit)
        root.bind("<Control-q>", lambda _event: self.quit())
        root.bind("<F1>", lambda _event: self.show_shortcuts())
        root.update_idletasks()
        root.minsize(root.winfo_reqwidth(), root.winfo_reqheight())
        self._restore_window()
        if self.settings.note:
            self.set_status(self.settings.note, error=True)
        root.after_idle(self.draw_tab.show_startup_errors)

    def _build_fonts(self) -> None:
        """Size the standard fonts and create the app's named ones (kept alive on self)."""
        tkfont.nametofont("TkDefaultFont").configure(size=10)
        tkfont.nametofont("TkTextFont").configure(size=10)
        family = tkfont.nametofont("TkDefaultFont").actual("family")
        self.fonts = [
            tkfont.Font(self.root, name="HeadingFont", family=family, size=11, weight="bold"),
            tkfont.Font(self.root, name="DigitFont", family=family, size=54, weight="bold"),
            tkfont.Font(self.root, name="ConfidenceFont", family=family, size=14),
            tkfont.Font(self.root, name="HintFont", family=family, size=13, slant="italic"),
        ]

    def _build_style(self) -> None:
        """Give the ttk widgets a calm light look: grey window, white cards, one accent colour."""
        style = ttk.Style(self.root)
        if PREFERRED_THEME in style.theme_names() and style.theme_use() == "default":
            style.theme_use(PREFERRED_THEME)
        self.root.configure(background=WINDOW_BACKGROUND)
        style.configure(".", background=WINDOW_BACKGROUND, foreground=TEXT_COLOUR)
        style.configure("TNotebook", background=WINDOW_BACKGROUND, borderwidth=0)
        style.configure("TNotebook.Tab", padding=(14, 3))
        style.configure(
            "Card.TFrame",
            background=PANEL_BACKGROUND,
            relief="solid",
            borderwidth=1,
            bordercolor=CARD_BORDER,
        )
        style.configure("Inner.TFrame", background=PANEL_BACKGROUND)
        card_labels = {
            "Card.TLabel": {},
            "CardHeading.TLabel": {"font": "HeadingFont"},
            "CardMuted.TLabel": {"foreground": MUTED_TEXT},
            "Digit.TLabel": {"font": "DigitFont", "foreground": ACCENT, "anchor": "center"},
            "Confidence.TLabel": {"font": "ConfidenceFont"},
        }
        for name, options in card_labels.items():
            style.configure(name, background=PANEL_BACKGROUND, **options)
        style.configure("Heading.TLabel", font="HeadingFont")
        style.configure("Muted.TLabel", foreground=MUTED_TEXT)
        style.configure("Status.TLabel", padding=(10, 2), foreground=MUTED_TEXT)
        style.configure(STATUS_BUTTON_STYLE, padding=(6, 0))

    def _build_icon(self) -> None:
        """Set the window icon from the shipped assets when they are there (works without)."""
        icons = icon_files()
        self.icons = [
            tk.PhotoImage(master=self.root, file=str(icons[size]))
            for size in sorted(WINDOW_ICON_SIZES, reverse=True)
            if size in icons
        ]
        if self.icons:
            # The first image is the default; the window manager may pick the smaller ones.
            self.root.iconphoto(True, *self.icons)

    def _build_status_bar(self) -> None:
        """Build the one-line status bar along the bottom of the window."""
        self.status = StatusBar(self.root)
        self.status.pack(side="bottom", fill="x")
        ttk.Separator(self.root).pack(side="bottom", fill="x")

    def _build_notebook(self, options: argparse.Namespace) -> None:
        """Build the notebook with the Draw tab and the Train tab."""
        self.notebook = ttk.Notebook(self.root)
        self.notebook.pack(side="top", fill="both", expand=True, padx=8, pady=(4, 2))
        self.notebook.enable_traversal()
        self.my_digits = DigitStore(
            resolve_my_digits_dir(options.my_digits or self._remembered_folder())
        )
        self.draw_tab = DrawTab(
            self.notebook,
            ModelCatalogue(options.models_dir, user_models_dir()),
            self.set_status,
            self.scale,
            options.model or self._remembered_model(),
            self.settings,
            self.my_digits,
        )
        brush = self.settings.get("brush", number(MIN_BRUSH_WIDTH, MAX_BRUSH_WIDTH))
        if brush is not None:
            self.draw_tab.brush_width.set(brush)
            self.draw_tab.change_brush(0.0)
        self.notebook.add(self.draw_tab, text="Draw", underline=0)
        self.context = AppContext(
            root=self.root,
            set_status=self.set_status,
            use_model=self.use_in_draw_tab,
            current_model=self.draw_tab.current_model,
            data_dir=options.data,
            settings=self.settings,
            my_digits_folder=lambda: self.my_digits.folder,
        )
        self.train_tab = TrainTab(self.notebook, self.context)
        self.notebook.add(self.train_tab, text="Train", underline=0)
        self.my_digits_tab = MyDigitsTab(
            self.notebook, self.context, self.my_digits, self.draw_tab, self.scale
        )
        self.notebook.add(self.my_digits_tab, text="My digits", underline=0)

    def _remembered_folder(self) -> Path | None:
        """Return the My digits folder chosen in the app last time, if it is still there."""
        path = self.settings.get(FOLDER_SETTING, path_value)
        return path if path is not None and path.is_dir() else None

    def _remembered_model(self) -> Path | None:
        """Return the model file used last time, if it is still there."""
        path = self.settings.get("model", path_value)
        return path if path is not None and path.is_file() else None

    def _restore_window(self) -> None:
        """Give the window last run's size (within this screen) and show last run's tab."""
        window = self.settings.get("window", WINDOW_CHECK) or {}
        if "width" in window and "height" in window:
            width = min(window["width"], self.root.winfo_screenwidth())
            height = min(window["height"], self.root.winfo_screenheight())
            self.root.geometry(f"{width}x{height}")
        shown = {"train": self.train_tab, "mydigits": self.my_digits_tab}.get(window.get("tab"))
        if shown is not None:
            self.notebook.select(shown)

    def _remember(self) -> None:
        """Store the window, the brush, the model and each tab's settings, and save them."""
        shown = self.notebook.index(self.notebook.select())
        self.settings.put(
            "window",
            {
                "width": self.root.winfo_width(),
                "height": self.root.winfo_height(),
                "tab": TAB_NAMES[shown],
            },
        )
        self.settings.put("brush", self.draw_tab.brush_width.get())
        model = self.draw_tab.model
        if model is not None and model.path is not None:
            self.settings.put("model", str(model.path.resolve()))
        self.train_tab.remember()
        problem = self.settings.save()
        if problem is not None:
            print(problem, file=sys.stderr)

    def _build_menu(self) -> None:
        """Build the File, Edit and Help menus; accelerators match the tabs' bindings."""
        menubar = tk.Menu(self.root)
        file_menu = tk.Menu(menubar, tearoff=False)
        file_menu.add_command(
            label="Open model…", accelerator="Ctrl+O", command=self.draw_tab.open_model_dialog
        )
        file_menu.add_command(
            label="Save drawing as PNG…",
            accelerator="Ctrl+S",
            command=self.draw_tab.save_drawing_dialog,
        )
        file_menu.add_separator()
        file_menu.add_command(label="Quit", accelerator="Ctrl+Q", command=self.quit)
        menubar.add_cascade(label="File", menu=file_menu, underline=0)
        edit_menu = tk.Menu(menubar, tearoff=False)
        edit_menu.add_command(label="Undo stroke", accelerator="Ctrl+Z", command=self.draw_tab.undo)
        edit_menu.add_command(label="Clear drawing", accelerator="Esc", command=self.draw_tab.clear)
        menubar.add_cascade(label="Edit", menu=edit_menu, underline=0)
        help_menu = tk.Menu(menubar, tearoff=False)
        help_menu.add_command(
            label="Keyboard shortcuts", accelerator="F1", command=self.show_shortcuts
        )
        help_menu.add_command(label="About Digits", command=self.show_about)
        menubar.add_cascade(label="Help", menu=help_menu, underline=0)
        self.root.configure(menu=menubar)

    def set_status(self, text: str, error: bool = False) -> None:
        """Show a message in the status bar; an error stays until dismissed or replaced."""
        self.status.show(text, error)

    def show_shortcuts(self) -> None:
        """Open a small window listing every keyboard shortcut."""
        window = tk.Toplevel(self.root)
        window.title("Keyboard shortcuts")
        window.transient(self.root)
        window.resizable(False, False)
        window.geometry(f"+{self.root.winfo_rootx() + 80}+{self.root.winfo_rooty() + 80}")
        body = ttk.Frame(window, padding=16)
        body.pack(fill="both", expand=True)
        row = 0
        for heading, shortcuts in SHORTCUT_SECTIONS:
            ttk.Label(body, text=heading, style="Muted.TLabel").grid(
                row=row, column=0, columnspan=2, sticky="w", pady=(0 if row == 0 else 10, 2)
            )
            row += 1
            for keys, action in shortcuts:
                ttk.Label(body, text=keys, font="HeadingFont").grid(
                    row=row, column=0, sticky="w", padx=(0, 24), pady=2
                )
                ttk.Label(body, text=action).grid(row=row, column=1, sticky="w", pady=2)
                row += 1
        close = ttk.Button(body, text="Close", command=window.destroy)
        close.grid(row=row, column=1, sticky="e", pady=(12, 0))
        window.bind("<Escape>", lambda _event: window.destroy())
        close.focus_set()

    def show_about(self) -> None:
        """Show what Digits is."""
        messagebox.showinfo(f"About {APP_TITLE}", ABOUT_TEXT, parent=self.root)

    def use_in_draw_tab(self, network: Network, label: str) -> None:
        """Make network the Draw tab's model and show the Draw tab (AppContext.use_model)."""
        self.draw_tab.use_model(network, label)
        self.notebook.select(self.draw_tab)

    def quit(self) -> None:
        """Close the window, asking first while a training run would be lost."""
        if self.my_digits_tab.teaching and not messagebox.askokcancel(
            "Quit while teaching?",
            "The model is being taught your digits. Quitting now stops it; your drawings are"
            " kept, and the taught model is not saved.",
            icon="warning",
            default="cancel",
            parent=self.root,
        ):
            return
        if self.train_tab.running and not messagebox.askokcancel(
            "Quit while training?",
            "A training run is in progress. Quitting now stops it and loses what it has"
            " learned so far.",
            icon="warning",
            default="cancel",
            parent=self.root,
        ):
            return
        self.close()

    def close(self) -> None:
        """Remember the settings, stop pending work of the tabs, then destroy the window."""
        self._remember()
        self.train_tab.shutdown()
        self.my_digits_tab.close()
        self.draw_tab.close()
        self.status.close()
        self.root.destroy()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Return the command-line options of the app."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM_NAME, description="Draw a digit and watch a pure-Python network read it."
    )
    parser.add_argument("--version", action="version", version=version_line(PROGRAM_NAME))
    parser.add_argument("--model", type=Path, help="model file to start with")
    parser.add_argument(
        "--models-dir",
        type=Path,
        help="folder holding the shipped default.json and classic.json (default: models/)",
    )
    parser.add_argument("--data", type=Path, help="folder of the MNIST files for training")
    parser.add_argument(
        "--my-digits",
        type=Path,
        metavar="DIR",
        help="folder of your own labelled drawings, <DIR>/<digit>/<name>.png (default:"
        " $DIGITS_MY_DIGITS, else my-digits in the per-user data folder)",
    )
    parser.add_argument(
        "--settings",
        type=Path,
        default=None,
        help="settings file to remember choices in (default: settings.json in the per-user"
        " config folder, e.g. ~/.config/digits)",
    )
    launcher = parser.add_mutually_exclusive_group()
    launcher.add_argument(
        "--install-desktop-entry",
        action="store_true",
        help="add Digits to the Linux application menu ($XDG_DATA_HOME/applications) and exit",
    )
    launcher.add_argument(
        "--remove-desktop-entry",
        action="store_true",
        help="remove the entry --install-desktop-entry added, and its icons, and exit",
    )
    return parser.parse_args(argv)


def create_app(argv: list[str] | None = None) -> DigitsApp:
    """Build the window for the given command-line arguments, without running it."""
    return _build_app(parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    """Run the app until its window closes (or a launcher option); return the exit status."""
    options = parse_args(argv)
    if options.install_desktop_entry or options.remove_desktop_entry:
        return run_desktop_command(remove=options.remove_desktop_entry)
    app = _build_app(options)
    try:
        app.root.mainloop()
    except KeyboardInterrupt:
        app.close()
    return 0


def _build_app(options: argparse.Namespace) -> DigitsApp:
    """Create the Tk root (its class names the window for desktops) and build the app in it."""
    if options.settings is None:
        options.settings = settings_path()
    return DigitsApp(tk.Tk(className=APP_TITLE), options)
