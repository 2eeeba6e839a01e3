"""The bundled models and images: architectures, model cards, paths and loaders."""
