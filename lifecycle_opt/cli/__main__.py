"""``python -m lifecycle_opt.cli``: the console entry point."""
from .app import main

__all__: list[str] = []

main()
