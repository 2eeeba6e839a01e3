"""The ImageNet-1k class names, read from the bundled models folder on first use."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property

from ucan_core.errors import UcanError
from ucan_core.zoo.paths import models_dir

#: The file (in the bundled models folder) with the 1,000 ImageNet-1k class names, one a line,
#: in the index order of the classifiers' logits.
CLASSES_FILE = "imagenet-classes.txt"


class ImageNetClasses(Sequence[str]):
    """The 1,000 ImageNet-1k class names (index order of the classifier's logits), read from
    the bundled models folder on first use (so importing the zoo never reads a file)."""

    @cached_property
    def _names(self) -> tuple[str, ...]:
        path = models_dir() / CLASSES_FILE
        try:
            names = tuple(path.read_text(encoding="utf-8").splitlines())
        except OSError:
            raise UcanError(f"the ImageNet class names are missing: {path} not found") from None
        if len(names) != 1000:
            raise UcanError(f"{path.name} has {len(names)} class names, not 1000")
        return names

    def __getitem__(self, index):  # type: ignore[override]
        return self._names[index]

    def __len__(self) -> int:
        return 1000

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)


IMAGENET_CLASSES = ImageNetClasses()
