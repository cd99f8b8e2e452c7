"""Training: the driver, one module per method, the validation split, the divergence guard, torchrun followers and the app's child process."""
