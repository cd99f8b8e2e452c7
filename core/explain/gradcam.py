"""Grad-CAM family (pytorch-grad-cam >= 1.5.7) with a target that fits hashing.

A hashing network has no class logits to explain. The target here is the similarity of the image's
real-valued code u (B, bits) to a chosen code c: dot(u, c) or cos(u, c). With c = the query's code and
the image = a retrieved result, the map answers "which regions make this result close to my query";
with c = the image's own code it shows what produces the code at all.

The CAM runs on a private deep copy of the model in eval mode whose parameters do not require grad,
so it never touches a model that is training (no BN statistics, no .grad accumulation). Gradients
still reach the target layer because the input tensor requires grad.

Target layer (the last conv block), in this order:
1. `model.cam_target_layer` (an nn.Module attribute, or a method returning one), if a model declares it;
2. `model.backbone.layer4`: every fghash hashing network keeps its torchvision ResNet as `.backbone`;
3. the outermost sub-module whose forward output *is* the tensor `model.feature_map(x)` returns;
4. the last nn.Conv2d of the model.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch
from torch import nn

# name -> pytorch_grad_cam class; the library (and scikit-learn, which it imports) loads on first use,
# so importing core.explain for overlays alone stays cheaper (measured on the 2-core dev box under load:
# import core.explain 9-13 s, then pytorch_grad_cam another 3-6 s).
_CAM_CLASSES = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "eigencam": None,  # OrientedEigenCAM below; gradient-free, ignores the target
    "eigengradcam": "EigenGradCAM",
    "hirescam": "HiResCAM",  # element-wise grad x activation: faithful where gradients are local
    "xgradcam": "XGradCAM",
    "layercam": "LayerCAM",
}
CAM_METHODS: tuple[str, ...] = tuple(_CAM_CLASSES)


@lru_cache(maxsize=None)
def cam_class(method: str) -> type:
    """The pytorch_grad_cam class for a CAM_METHODS name."""
    if method not in _CAM_CLASSES:
        raise ValueError(f"unknown CAM method {method!r}; expected one of {CAM_METHODS}")
    import pytorch_grad_cam

    if _CAM_CLASSES[method] is None:
        return _oriented_eigencam()
    return getattr(pytorch_grad_cam, _CAM_CLASSES[method])


def _oriented_eigencam() -> type:
    from pytorch_grad_cam import EigenCAM
    from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

    class OrientedEigenCAM(EigenCAM):
        """EigenCAM with the sign of the principal component fixed.

        pytorch-grad-cam's EigenCAM projects the centred activations on their first principal component,
        whose sign is arbitrary (SVD), so the map can come out as the background. Here the projection is
        flipped when it correlates negatively with the summed activations, i.e. it points where the
        features are active (measured on a toy net: without this the map peaked in an inactive quadrant).
        """

        def get_cam_image(self, input_tensor, target_layer, targets, activations, grads, eigen_smooth):
            acts = np.nan_to_num(np.asarray(activations, dtype=np.float32))
            proj = get_2d_projection(acts)
            total = acts.sum(axis=1)
            for i in range(proj.shape[0]):
                p = proj[i].ravel() - proj[i].mean()
                t = total[i].ravel() - total[i].mean()
                if float(p @ t) < 0:
                    proj[i] = -proj[i]
            return proj

    return OrientedEigenCAM


SIMILARITIES = ("dot", "cosine")


class CodeSimilarityTarget:
    """pytorch-grad-cam target: similarity of one image's code (bits,) to a fixed code (bits,)."""

    def __init__(self, code: torch.Tensor, metric: str = "dot") -> None:
        if metric not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {metric!r}")
        self.code = code.detach().float().flatten()
        self.metric = metric

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        code = self.code.to(model_output.device)
        if model_output.shape[-1] != code.shape[0]:
            raise ValueError(f"target code has {code.shape[0]} bits but the model outputs {model_output.shape[-1]}")
        if self.metric == "cosine":
            return torch.nn.functional.cosine_similarity(model_output.float(), code, dim=-1)
        return (model_output.float() * code).sum(dim=-1)


class _EncodeAsForward(nn.Module):
    """pytorch-grad-cam calls model(x); hashing networks expose their codes as encode(x)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode(x)


def private_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode with frozen parameters, safe to hook and backprop through."""
    twin = copy.deepcopy(model).eval()
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin


def find_target_layer(model: nn.Module, probe: torch.Tensor | None = None) -> nn.Module:
    """The last conv block of `model` (see the module docstring for the resolution order)."""
    declared = getattr(model, "cam_target_layer", None)
    if isinstance(declared, nn.Module):
        return declared
    if callable(declared):
        layer = declared()
        if isinstance(layer, nn.Module):
            return layer
    backbone = getattr(model, "backbone", None)
    if isinstance(getattr(backbone, "layer4", None), nn.Module):
        return backbone.layer4
    if probe is not None and hasattr(model, "feature_map"):
        layer = _module_producing_feature_map(model, probe)
        if layer is not None:
            return layer
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no conv layer to explain")
    return convs[-1]


def _module_producing_feature_map(model: nn.Module, probe: torch.Tensor) -> nn.Module | None:
    outputs: list[tuple[nn.Module, object]] = []
    hooks = [
        m.register_forward_hook(lambda mod, _inp, out: outputs.append((mod, out)))
        for m in model.modules()
        if m is not model
    ]
    try:
        with torch.no_grad():
            fmap = model.feature_map(probe)
    finally:
        for h in hooks:
            h.remove()
    # Hooks fire innermost first; the last match is the outermost module returning that tensor.
    matches = [mod for mod, out in outputs if out is fmap]
    return matches[-1] if matches else None


@torch.no_grad()
def encode_real(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Real-valued codes (B, bits) of normalised images (B, 3, H, W)."""
    return model.encode(images).float()


def code_similarity(codes: torch.Tensor, target: torch.Tensor, metric: str = "dot") -> torch.Tensor:
    """(B, bits) codes vs (B, bits) targets -> (B,) similarities."""
    return torch.stack([CodeSimilarityTarget(t, metric)(c) for c, t in zip(codes, target)])


def gradcam_maps(
    model: nn.Module,
    images: torch.Tensor,
    target_codes: torch.Tensor | None = None,
    *,
    method: str = "gradcam",
    similarity: str = "dot",
    copy_model: bool = True,
    target_layer: nn.Module | Callable[[nn.Module], nn.Module] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM-family maps for normalised images (B, 3, H, W).

    target_codes: (bits,) or (B, bits) real or +-1 codes; None = each image's own code.
    Returns (maps (B, H, W) float32 in [0, 1], scores (B,) float32: the target similarity).
    copy_model=False only for a model that is already a private_copy().
    """
    cam_cls = cam_class(method)
    net = private_copy(model) if copy_model else model
    device = next(net.parameters()).device
    x = images.detach().to(device).float()
    if target_codes is None:
        if similarity == "cosine":
            # cos(u, u) = 1 for every u: its gradient is 0 and the map would be flat
            raise ValueError("cosine similarity to the image's own code is constant; give a target code or use 'dot'")
        target_codes = encode_real(net, x)
    target_codes = torch.as_tensor(target_codes, dtype=torch.float32, device=device)
    if target_codes.ndim == 1:
        target_codes = target_codes.expand(x.shape[0], -1)
    if target_codes.shape[0] != x.shape[0]:
        raise ValueError(f"{target_codes.shape[0]} target codes for {x.shape[0]} images")
    if target_layer is None:
        layer = find_target_layer(net, x[:1])
    else:
        layer = target_layer if isinstance(target_layer, nn.Module) else target_layer(net)
    targets = [CodeSimilarityTarget(t, similarity) for t in target_codes]
    # Frozen parameters: the input must require grad or no gradient reaches the target layer.
    x = x.clone().requires_grad_(True)
    cam = cam_cls(model=_EncodeAsForward(net), target_layers=[layer])
    try:  # not `with cam:`: BaseCAM.__exit__ swallows IndexError, which would hide real bugs
        with torch.enable_grad():
            maps = cam(input_tensor=x, targets=targets)
        scores = code_similarity(cam.outputs.detach(), target_codes, similarity)
    finally:
        cam.activations_and_grads.release()  # remove the hooks from the (shared) private copy
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float32), nan=0.0)
    return np.clip(maps, 0.0, 1.0), scores.cpu().numpy().astype(np.float32)
