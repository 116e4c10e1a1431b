"""Run the engine's command line as `python -m engine` (see `engine.cli`)."""

import sys

EXIT_INTERRUPTED = 130

if __name__ == "__main__":
    try:
        from engine.cli import main
    except KeyboardInterrupt:
        # Ctrl+C while the modules load: nothing has started, so stop without a traceback.
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(main())
