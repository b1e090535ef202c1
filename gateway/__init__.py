"""Resumable-upload and video-ingest gateway."""

__version__ = "0.1.0"
