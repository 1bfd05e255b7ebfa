"""`python -m fairfight ...`: the same as the `fairfight` command."""
from fairfight.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
