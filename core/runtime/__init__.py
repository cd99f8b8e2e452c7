"""Where and how a process computes: device selection and torchrun rank helpers."""
