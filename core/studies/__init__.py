"""Studies: a paper's experiment grid run as resumable cells (grid, state, executors, table, figure)."""
