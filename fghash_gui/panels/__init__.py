"""One panel per main-window tab: training, browse, explain, runs."""
