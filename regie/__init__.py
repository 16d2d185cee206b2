"""regie: online payments and invoicing for public bodies (the shell and composition root)."""

__version__ = "0.1.0"
