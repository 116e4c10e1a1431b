"""Start the Digits desktop app: `python run_app.py [--model FILE] [--models-dir DIR]`."""

if __name__ == "__main__":
    # Imported here: the training process (started by "spawn") runs this file again, as
    # __mp_main__, and must not import Tk.
    from app.main import main

    raise SystemExit(main())
