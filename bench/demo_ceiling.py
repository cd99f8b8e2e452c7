"""What `fghash demo`'s mAP@all means, and why its schedule cannot go past the patch colour from random weights.

1. The exact tie-averaged mAP@all of an encoder that knows only some of each demo class's traits (its patch
   colour; the colour and the head stripe; the colour and the spot's position; everything), on the demo
   split's counts with fghash's metric. Each class's code is the one-hot code of its trait group, so the
   classes of one group tie. Instant.
2. With --classifier-steps: test accuracy of the simplest learner the demo could use, a plain 10-class
   classifier (ResNet-18 from random weights + a linear layer, cross-entropy, SGD lr 0.005, batch 16, the
   demo's 64 px crops and augmentation), after every quarter of the steps, beside the accuracy of a guesser that
   knows the patch colour only. It shows how many steps learning the stripe and the spot takes on this CPU.

    python bench/demo_ceiling.py
    OMP_NUM_THREADS=2 python bench/demo_ceiling.py --classifier-steps 1440 --seeds 0,1
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # before anything that may import faiss: see bench/map.py

from core.cli.demo import DEMO_IMAGE_SIZE
from core.data import demo
from core.evaluation.metrics import map_all

TRAITS = {
    "patch colour only": lambda c: c.patch_rgb,
    "colour and head stripe": lambda c: (c.patch_rgb, c.striped),
    "colour and spot position": lambda c: (c.patch_rgb, c.spot_position),
    "every trait (the class)": lambda c: c,
}


def group_codes(labels: torch.Tensor, trait) -> torch.Tensor:
    """+-1 codes, one bit per trait group: the image's group's bit is +1."""
    groups = list(dict.fromkeys(trait(c) for c in demo.CLASSES))
    group = torch.tensor([groups.index(trait(demo.CLASSES[int(label)])) for label in labels])
    codes = -torch.ones(len(labels), len(groups))
    codes[torch.arange(len(labels)), group] = 1.0
    return codes


def split_labels(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    index = demo.load(seed=seed)
    return tuple(torch.tensor([r.label for r in index.split(s)]) for s in ("test", "train"))


def colour_guess_accuracy(labels: torch.Tensor) -> float:
    """Expected accuracy of a guesser that knows the patch colour and picks one class of that colour at random."""
    sizes = Counter(c.patch_rgb for c in demo.CLASSES)
    return float(sum(1 / sizes[demo.CLASSES[int(label)].patch_rgb] for label in labels) / len(labels))


def classifier_accuracy(seed: int, steps: int, image_size: int) -> None:
    from torch import nn

    from core.data.images import load_rgb
    from core.data.transforms import eval_transform, train_transform
    from core.models.backbones import build_backbone

    torch.manual_seed(seed)
    index = demo.load(seed=seed)
    train, test = index.split("train"), index.split("test")
    train_images = [load_rgb(r.path) for r in train]
    augment = train_transform(image_size)
    evaluate = eval_transform(image_size, round(image_size * 256 / 224))
    test_x = torch.stack([evaluate(load_rgb(r.path)) for r in test])
    test_y = torch.tensor([r.label for r in test])
    train_y = torch.tensor([r.label for r in train])
    backbone = build_backbone("resnet18", "none")
    net = nn.Sequential(backbone, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(backbone.out_channels, len(demo.CLASSES)))
    optimiser = torch.optim.SGD(net.parameters(), lr=0.005, momentum=0.9, weight_decay=1e-5)
    draw = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    print(f"seed {seed}: a guesser that knows the patch colour only scores {100 * colour_guess_accuracy(test_y):.1f}%",
          flush=True)
    for step in range(1, steps + 1):
        batch = torch.randint(len(train), (16,), generator=draw)
        net.train()
        loss = nn.functional.cross_entropy(net(torch.stack([augment(train_images[i]) for i in batch])), train_y[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % max(1, steps // 4) == 0 or step == steps:
            net.eval()
            with torch.no_grad():
                accuracy = float((net(test_x).argmax(1) == test_y).float().mean())
            print(f"  step {step}: test accuracy {100 * accuracy:.1f}% ({time.perf_counter() - start:.0f} s)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0", help="demo data seeds (default 0)")
    parser.add_argument("--classifier-steps", type=int, default=0, help="train the plain classifier this many steps")
    parser.add_argument("--image-size", type=int, default=DEMO_IMAGE_SIZE)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    query_labels, database_labels = split_labels(seeds[0])
    print(f"exact tie-averaged mAP@all on the demo split ({len(query_labels)} queries, {len(database_labels)} database "
          f"images) of an encoder that knows:")
    for name, trait in TRAITS.items():
        value = map_all(group_codes(query_labels, trait), group_codes(database_labels, trait), query_labels, database_labels)
        print(f"  {name:<26} {100 * float(value):6.2f}")
    if args.classifier_steps:
        print(f"\nplain classifier, ResNet-18 from random weights at {args.image_size} px, torch threads "
              f"{torch.get_num_threads()}:")
        for seed in seeds:
            classifier_accuracy(seed, args.classifier_steps, args.image_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
