"""Files in and out: images, datasets, checkpoints and certification logs."""
