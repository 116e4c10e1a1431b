"""Start the Digits desktop app: `python run_app.py [--model FILE] [--models-dir DIR]`."""

from app.main import main

if __name__ == "__main__":
    raise SystemExit(main())
