"""Training classifiers under noise and learned noise parameter generators."""
