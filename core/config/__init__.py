"""What a run is asked to do: TrainConfig with its validation, and the schedule presets."""
