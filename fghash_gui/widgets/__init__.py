"""Reusable widgets: the result grid (model + delegate) and the image overlay view."""
