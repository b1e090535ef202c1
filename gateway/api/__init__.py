"""JSON APIs: the Mux-compatible ``/video/v1`` API and Livepeer's ``/api/asset/request-upload``."""
