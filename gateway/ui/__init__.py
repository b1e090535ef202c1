"""The uploader page served at ``/`` (plain HTML, CSS and ES modules in ``static/``; see README.md here)."""

from gateway.ui.pages import UploaderPage, uploader_routes

__all__ = ["UploaderPage", "uploader_routes"]
