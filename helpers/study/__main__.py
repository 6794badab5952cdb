"""``python -m helpers.study serve EXPERIMENT --db study.sqlite`` and ``... export DB OUT --experiment EXPERIMENT``
(:func:`helpers.study.server.main`)."""
import sys

from helpers.study.server import main

if __name__ == "__main__":
    sys.exit(main())
