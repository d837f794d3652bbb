"""valign: value alignment of large language models, driven by one constitution.

The package itself imports nothing: each stage is a package with its own face
(``valign.values``, ``valign.guard``, ``valign.train``…), whose names load on first use.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
