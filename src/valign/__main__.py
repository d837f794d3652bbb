"""``python -m valign``: the same command as the ``valign`` console script."""

from valign.cli import main

if __name__ == "__main__":
    main()
