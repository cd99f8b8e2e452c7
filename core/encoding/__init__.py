"""Turning images into codes with a trained network: batches and resumable collections."""
