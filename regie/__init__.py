"""regie: online payments and invoicing for public bodies.

This package is the shell (the composition root: ``app``, ``cli``, ``demo``, ``worker``,
``openapi``, ``migrate``); the kernel that every package shares is ``regie.kit``.
See docs/architecture.md.
"""

from regie.kit import __version__

__all__ = ["__version__"]
