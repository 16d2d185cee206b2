"""The PSP port (``base``), the adapters (``stripe/``, ``simulator/``), which names they serve
(``adapters``) and the registry the services use (``registry``). Adding a PSP: one new
subpackage and one line in ``adapters.ADAPTERS`` (docs/architecture.md, "Payment providers").
"""
