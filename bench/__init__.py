"""Communiqué's benchmark: ``python -m bench --quick|--full`` (see bench/README.md)."""
