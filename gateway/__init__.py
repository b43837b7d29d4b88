"""mediagate: a publishing gateway with pre-publication gating."""

__version__ = "0.1.0"
