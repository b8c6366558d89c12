"""The console's screens: one per mode (console, explorer, graph, replay, runs), plus help and dialogs."""
