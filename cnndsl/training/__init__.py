"""Training: data sets, optimizers, checkpoints and the training loop."""
