"""valign: value alignment of large language models, driven by one constitution."""

__version__ = "0.1.0"
