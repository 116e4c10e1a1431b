"""Start the app from the installed `digits` command, importing Tk only when it is called.

The training process is started with multiprocessing's "spawn" method, which runs the parent's
main script again (as `__mp_main__`) in the child. For the installed `digits` command that
script is the wrapper pip writes, which imports its entry point at the top: pointing it here
rather than at `app.main` keeps tkinter and the GUI modules out of every training process.
"""

from __future__ import annotations


def main() -> int:
    """Run the app (see `app.main.main`) and return its exit status."""
    from app.main import main as run_app

    return run_app()
