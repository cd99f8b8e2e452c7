"""Run folders and the store: paths, the run lock, the SQLite index and its rebuild, checkpoints, housekeeping."""
