"""leadfollow: make sure no web lead goes cold."""

__version__ = "0.1.0"
