"""Frozen, validated configurations with a JSON round-trip and a schema version.

Every option that docs/methods.md marks [RECON] is a named field whose docstring says "reconstructed".
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.base.errors import ConfigError

SCHEMA_VERSION = 1

METHODS = ("adsh", "fcaenet", "multifusnet",
           "dpsh", "hashnet", "fish")  # baselines (docs/baselines.md sections 1, 2, 7)
# The SEMICON-family baselines (docs/baselines.md sections 0, 3-6): ADSH's loop with their own networks and terms.
SEMICON_FAMILY = ("semicon", "a2net", "exchnet", "agmh")
METHODS += SEMICON_FAMILY
BACKBONES = ("resnet18", "resnet34", "resnet50")
DEVICES = ("auto", "cpu", "cuda")
COMPILE_STEP_MODES = ("off", "reduce-overhead", "auto")  # TrainConfig.compile_step
# Bounds on the crop and resize sizes (pixels). The papers train at 224-448 px; the memory of a batch grows
# with the square of the size, so --image-size 10000 would ask for ~2000x the memory of 224 px and die in
# an allocation; it is refused up front instead.
MAX_IMAGE_SIZE = 1024
MAX_RESIZE_SIZE = 2048


@dataclass(frozen=True)
class AdshOptions:
    """ADSH asymmetric hashing (docs/methods.md section 1); shared by the ADSH baseline and FCAENet."""

    num_samples: int = 2000  # m: images sampled from the database per outer iteration
    inner_epochs: int = 20  # T_in: epochs over the m samples per outer iteration (FCAENet paper: 20)
    gamma: float = 200.0  # quantisation weight; reconstructed for FCAENet (ADSH default)
    loss_normalization: Literal["semicon", "jiangqy"] = "semicon"  # /(batch*n)*12/k or /(n*batch)
    v_init: Literal["zeros", "randn"] = "zeros"  # initial database codes before the first sign
    dcc_sign_u_in_s_term: bool = False  # MATLAB variant: sign(U) inside the S^T U term


@dataclass(frozen=True)
class FcaeOptions:
    """FCAENet additions on top of ADSH (docs/methods.md section 2). Table 2 ablations: use_srem/use_esrl."""

    use_srem: bool = True  # erase the anchor with SREM and pull its code to the anchor's
    use_esrl: bool = True  # positive-pair term L_pos
    alpha: float = 1.0  # weight of L_pos; reconstructed (lost from the paper)
    beta: float = 1.0  # weight of L_era; reconstructed (lost from the paper)
    srem_regions: int = 50  # N top pixels, each the top-left corner of an erased square
    srem_size: int = 32  # s: side of an erased square in pixels
    erase_target: Literal["normalized_zero", "black"] = "normalized_zero"  # reconstructed
    # Scale of the ESRL sums of squared distances. The paper names m (sampled images) and k (code length) as
    # the symbols of Eq. 7-9, so "m_k" = 1/(m k) is the literal reading; the default "quant" is fghash's
    # RECONSTRUCTION, chosen on the measured gradient shares below, and labelled [RECON] wherever it shows
    # (--help, the stored config's "reconstructed" block, table variant labels: ESRL_NORMALIZATION_LABELS).
    # "quant" (default): the quantisation term's own scale, gamma x ADSH's normalisation, so alpha = beta = 1
    #   pull u toward u+ (and u_e) exactly as hard, per unit of code difference, as quantisation pulls u toward
    #   its database code v, whatever n, m, batch and k. "m_k": 1/(m k), Eq. 7-8 read literally (the default
    #   until now): a pull of n B / (12 gamma m) of quantisation's, 0.08 on full CUB, so "+ESRL" barely
    #   trained. "batch_k": 1/(batch k), a pull of n / (12 gamma): 2.5 on CUB, 10 on NABirds (both ratios with
    #   ADSH's default "semicon" normalisation).
    # Measured share of the gradient on the network outputs, ESRL (pos + era) of all four terms, CUB subset in
    # ../shared/data (n = m = 300), 12 bits, resnet18 random init, 112 px, after 1 / 3 / 6 outer iterations
    # (bench/loss_shares.py): quant 12.5 / 15.0 / 17.3 %, m_k 0.4 / 0.5 / 0.6 %, batch_k 1.7 / 2.2 / 2.5 %.
    esrl_normalization: Literal["quant", "m_k", "batch_k"] = "quant"


# How a table or log names each ESRL scale: the two reconstructions are marked, the literal reading says so.
ESRL_NORMALIZATION_LABELS = {"quant": "ESRL quant [RECON]", "batch_k": "ESRL batch_k [RECON]",
                             "m_k": "ESRL m_k (Eq. 7-8 literal)"}


@dataclass(frozen=True)
class MultiFusOptions:
    """Multi-FusNet (docs/methods.md section 3). Table 6 ablations: use_cascade/use_fusion/use_attention."""

    use_cascade: bool = True  # multi-level cascade (layer2/3/4); False = top level only
    use_fusion: bool = True  # X + ECA(X) two-branch fusion
    use_attention: bool = True  # hash-feature enhancement (transformer over level tokens); reconstructed
    eca_kernel: Literal["adaptive", "shared_k3"] = "adaptive"  # paper rule vs published code
    attention_type: Literal["mhsa"] = "mhsa"  # reconstructed: plain multi-head self-attention
    attention_depth: int = 1
    attention_heads: int = 8
    attention_mlp_dim: int = 2048
    # widths of the per-level conv blocks (1x1 -> mid, 3x3 -> out; published code: 512 / 1024);
    # smaller values only to make CPU tests fast
    cascade_mid_channels: int = 512
    cascade_out_channels: int = 1024
    # BatchNorm momentum of the conv blocks (published code: 0.01, i.e. running statistics settle over
    # a few hundred steps; short CPU runs use 0.1 so that eval-mode features are calibrated)
    cascade_bn_momentum: float = 0.01
    proxy_sigma: float = 1.0
    proxy_delta: float = 1e-4
    proxy_iterations: int = 15
    procrustes: Literal["fish_correct", "as_in_muiltnet"] = "fish_correct"
    # the hash head's regression targets (core/training/methods/proxy_codes.py): "fish" = every image's own
    # FISH code (the paper's and the published code's), "distinct" = fghash's repair, one distinct code per
    # class (majority vote, then colliding classes moved apart); not in the paper
    proxy_codes: Literal["fish", "distinct"] = "fish"
    label_smoothing: float = 0.1  # q = 0.9 on the true class
    use_zoom: bool = True  # saliency zoom augmentation (section 3.3)
    # how grid_sample reads the zoom grid: "pixel_centres" (align_corners=True, the Saliency Sampler's
    # PyTorch < 1.3 behaviour: a flat saliency map is the identity) or "as_in_muiltnet"
    # (align_corners=False, what the published code ran under PyTorch >= 1.3); reconstructed
    zoom_grid: Literal["pixel_centres", "as_in_muiltnet"] = "pixel_centres"
    # training augmentation: "code" = RandomResizedCrop + HFlip (published code), "paper" = crop,
    # +-30 deg rotation, HFlip 0.7, ColorJitter 0.5 (paper section 3.5; order reconstructed)
    train_augment: Literal["code", "paper"] = "code"
    # the attention A_l of the fusion F_l = X_l + A_l(X_l) (docs/baselines.md section 9, paper Fig. 9), one instance
    # per level: "eca" (the paper's), "se", "cbam", "ca" (coordinate attention), "psa" (EPSANet's pyramid
    # squeeze attention; reconstructed: the paper's description fits it, its citation fits Polarized
    # Self-Attention) or "psa-polarized"; "cbam-muiltnet" = the published code's own CBAM try (per-level channel
    # gates, one shared spatial gate, applied in-line: F = A(X))
    fusion_attention: Literal["eca", "se", "cbam", "ca", "psa", "psa-polarized", "cbam-muiltnet"] = "eca"


# ---- baselines (docs/baselines.md): DPSH, HashNet, FISH ------------------------------------------------------
@dataclass(frozen=True)
class DpshOptions:
    """DPSH (docs/baselines.md section 1; jiangqy/DPSH-pytorch)."""

    eta: float = 10.0  # lambda (the paper's eta), the quantisation weight: 10 in the demo, 50 in the main script
    # network: "resnet" = the configured backbone, GAP, Linear(C -> bits), no activation (reconstructed for
    # fine-grained data, like the other baselines); "alexnet" = the official torchvision AlexNet with its
    # pretrained fc6 / fc7 (Dropout, ReLU), then Linear(4096 -> bits) (backbone is then ignored; >= 64 px)
    network: Literal["resnet", "alexnet"] = "resnet"
    # training augmentation: "crop_flip" = RandomResizedCrop + HFlip (reconstructed ResNet-50 preset, section 0
    # transforms); "none" = Resize + CenterCrop as the official code
    augment: Literal["crop_flip", "none"] = "crop_flip"


@dataclass(frozen=True)
class HashNetOptions:
    """HashNet (docs/baselines.md section 2; thuml/HashNet pytorch/)."""

    # "weighted" (reconstructed default: positives weighted |S|/|S1|, negatives |S|/|S0|, i.e. the mean
    # over positive pairs plus the mean over negative pairs) or "unweighted" (train.py's pairwise_loss, w_c = 1)
    loss: Literal["weighted", "unweighted"] = "weighted"
    sigmoid_param: float = 0.0  # alpha in d = alpha h_i^T h_j; 0 = 10 / bits (official); DSH_Analysis uses 0.1
    class_weight: float = 1.0  # w_c of the unweighted loss (`class_num`, README 1.0)
    step_size: int = 200  # continuation: beta changes every step_size training forwards
    gamma: float = 0.005  # beta = (1 + gamma * iter) ** power
    power: float = 0.5
    hash_lr_multiplier: float = 10.0  # the hash layer's lr is this times the backbone's
    lr_step: int = 2000  # lr * lr_decay ** floor(iteration / lr_step)
    lr_decay: float = 0.5
    iterations_per_epoch: int = 500  # training steps per driver epoch; 0 = one pass over the train split


@dataclass(frozen=True)
class FishOptions:
    """FISH (docs/baselines.md section 7; the only code: aassxun/DSH_Analysis fish.py, models/fish.py)."""

    class_mask_rate: float = 0.7  # every logit but the arg-max is multiplied by this before Linear(C -> bits)
    hide_low: float = 0.9  # attention-hide threshold tau ~ U(hide_low, 1) x max of the attention map
    below_mean_weight: float = 0.5  # layer4 positions below the mean attention are scaled by this


# ---- SEMICON-family baselines (docs/baselines.md sections 3-6) ---------------------------------------
@dataclass(frozen=True)
class SemiconOptions:
    """SEMICON (docs/baselines.md section 3)."""

    # alpha in M = clamp((p - mu) / sigma^alpha + 1, 0, 2): 0.15 in the code and its logs (reconstructed
    # default), 0.3 in the paper (README: about 1-2 mAP apart)
    alpha: float = 0.15
    # added to sigma: a batch whose stage maps are all constant has sigma = 0 and M would be NaN (a defect of
    # the official code); with it M = 1 there (reconstructed)
    sigma_eps: float = 1e-12
    # mu and sigma over the whole batch tensor (the code: an image's code then depends on its batch-mates)
    # or per image (a code depends on the image alone)
    attention_stats: Literal["batch", "image"] = "batch"
    # the code's strict=False load leaves the third layer4 block random; True loads pretrained layer4.2 into it
    load_third_block: bool = False


@dataclass(frozen=True)
class A2NetOptions:
    """A2-Net (docs/baselines.md section 4; DSH_Analysis re-implementation)."""

    parts: int = 0  # M attention maps; 0 = the code length (the code's M = k); reconstructed exposure
    aux_start: float = 0.5  # L_rec + L_dec join from outer iteration aux_start * T (0-based; the code: T/2)
    rec_weight: float = 1.0
    dec_weight: float = 1.0


@dataclass(frozen=True)
class ExchNetOptions:
    """ExchNet (docs/baselines.md section 5; ludics/fghash re-implementation, DSH_Analysis defaults)."""

    parts: int = 4  # M
    align_step: int = 35  # the exchange and L_al act from this 0-based outer iteration on (reconstructed)
    exchange_prob: float = 0.5  # Bernoulli per sample and part
    hinge: float = 0.4  # t in L_ch
    sp_weight: float = 1.0
    ch_weight: float = 1.0
    al_weight: float = 1.0
    quant_loss: bool = False  # L_q and gamma U-bar in the DCC step (the code: off)


@dataclass(frozen=True)
class AgmhOptions:
    """AGMH (docs/baselines.md section 6)."""

    branches: int = 6  # top_k + 1
    adl_weight: float = 0.5
    # the official file instantiates an undefined CHExtAttn; "siea" (reconstructed default) is the stepwise
    # interactive external attention DSH_Analysis uses
    attention: Literal["siea"] = "siea"
    attention_heads: int = 4
    attention_slots: int = 128


@dataclass(frozen=True)
class TrainConfig:
    """Everything needed to reproduce a training run. Defaults reproduce the FCAENet paper at 12 bits."""

    dataset_kind: str = "demo"
    dataset_root: str | None = None  # None for the built-in demo set
    allow_missing: bool = False  # load subsets whose metadata lists absent images
    method: Literal["adsh", "fcaenet", "multifusnet", "dpsh", "hashnet", "fish",
                    "semicon", "a2net", "exchnet", "agmh"] = "fcaenet"
    bits: int = 12
    backbone: str = "resnet50"
    weights: str = "imagenet"  # "imagenet", "none", or a path to a local weights file
    image_size: int = 224  # training crop / evaluation centre crop
    resize_size: int = 256  # evaluation resize before the centre crop
    device: str = "auto"
    amp: bool = True  # mixed precision (CUDA only; ignored on CPU)
    channels_last: bool = True  # CUDA only
    # compile the network's forward/backward with torch.compile(mode="reduce-overhead") (CUDA graphs: fewer
    # Python kernel launches, for small batches); CUDA only, eager elsewhere. "auto" = on only where a GPU
    # run has measured a win (bench/gpu_check.sh); none has yet, so "auto" is eager everywhere for now.
    compile_step: Literal["off", "reduce-overhead", "auto"] = "auto"
    seed: int = 68
    epochs: int = 40  # outer iterations (ADSH/FCAENet) or epochs (Multi-FusNet)
    batch_size: int = 64
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False  # Nesterov momentum (SEMICON, AGMH)
    weight_decay: float = 1e-5
    lr_milestones: tuple[int, ...] = (20, 30)
    lr_gamma: float = 0.1
    eval_every: int = 5  # evaluate mAP every this many epochs (and after the last)
    # Model selection (core/training/validation.py). "none": report the final model on the test split only (the
    # FCAENet protocol); "official": the dataset's validation list; "fraction": a stratified, seeded
    # val_fraction of the training split. Validation images are taken out of training.
    validation: Literal["none", "official", "fraction"] = "none"
    val_fraction: float = 0.1  # used when validation == "fraction"
    num_workers: int = 0
    # decode each image once into a memory-mapped uint8 cache and crop / flip / normalise on the training
    # device (core/data/decoded_cache.py, gpu_augment.py): keeps a GPU fed; off = PIL transforms per item
    data_cache: bool = False
    adsh: AdshOptions = field(default_factory=AdshOptions)
    fcae: FcaeOptions = field(default_factory=FcaeOptions)
    multifus: MultiFusOptions = field(default_factory=MultiFusOptions)
    dpsh: DpshOptions = field(default_factory=DpshOptions)
    hashnet: HashNetOptions = field(default_factory=HashNetOptions)
    fish: FishOptions = field(default_factory=FishOptions)
    semicon: SemiconOptions = field(default_factory=SemiconOptions)
    a2net: A2NetOptions = field(default_factory=A2NetOptions)
    exchnet: ExchNetOptions = field(default_factory=ExchNetOptions)
    agmh: AgmhOptions = field(default_factory=AgmhOptions)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The stored form: every option, plus a derived "reconstructed" block naming the values of the
        reconstructed ([RECON]) choices this run's method uses (from_dict ignores it)."""
        data = {**self.to_dict(), "reconstructed": reconstructed_choices(self)}
        return json.dumps(data, indent=2, sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], complete: bool = False) -> "TrainConfig":
        """complete=True: every option must be present (a run's stored config: a missing image_size would
        otherwise be filled with the default and a query encoded at another size); ConfigError names them."""
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            newer = ", written by a newer fghash: update fghash to open it" if (
                isinstance(version, int) and version > SCHEMA_VERSION) else ""
            raise ConfigError(
                f"config schema_version {version!r} is not supported (this fghash reads {SCHEMA_VERSION}){newer}"
            )
        return _build(cls, _upgrade(data), "config", complete)

    @classmethod
    def from_json(cls, text: str, complete: bool = False) -> "TrainConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config is not valid JSON: {exc}") from None
        except RecursionError:  # e.g. 200,000 nested brackets: json's decoder recurses once per level
            raise ConfigError("config JSON is nested too deeply to be an fghash config") from None
        if not isinstance(data, dict):
            raise ConfigError("config JSON must be an object")
        return cls.from_dict(data, complete)

    @classmethod
    def load(cls, path: str | Path, complete: bool = False) -> "TrainConfig":
        from core.base.safe_read import MAX_JSON_BYTES, read_regular

        path = Path(path)
        data = read_regular(path, what="config", limit=MAX_JSON_BYTES, error=ConfigError)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: config is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        try:
            return cls.from_json(text, complete)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None


# Options whose default is a reconstruction (tagged "reconstructed" in docs/methods.md: the paper lost the value or the equation),
# per method, each with the condition under which the method uses it.
_RECONSTRUCTED: dict[str, tuple[tuple[str, Any], ...]] = {
    "adsh": (),
    "fcaenet": (
        ("adsh.gamma", lambda c: True),
        ("fcae.alpha", lambda c: c.fcae.use_esrl),
        ("fcae.esrl_normalization", lambda c: c.fcae.use_esrl),
        ("fcae.beta", lambda c: c.fcae.use_srem),
        ("fcae.erase_target", lambda c: c.fcae.use_srem),
    ),
    "multifusnet": (
        ("multifus.attention_type", lambda c: c.multifus.use_attention),
        ("multifus.zoom_grid", lambda c: c.multifus.use_zoom),
        ("multifus.train_augment", lambda c: c.multifus.train_augment == "paper"),  # the order is reconstructed
    ),
}


def reconstructed_choices(cfg: TrainConfig) -> dict[str, Any]:
    """{"block.option": value} for the reconstructed options the config's method uses, e.g.
    {"fcae.esrl_normalization": "quant", ...}: what the stored config lists under "reconstructed"."""
    out: dict[str, Any] = {}
    for dotted, used in _RECONSTRUCTED.get(cfg.method, ()):
        if used(cfg):
            block, name = dotted.split(".")
            out[dotted] = getattr(getattr(cfg, block), name)
    return out


# Options added after schema 1 was first released, with the value that runs stored before them actually used: a
# stored config may lack exactly these (a run's config must otherwise name every option: TrainConfig.load).
# multifus.proxy_codes: those runs trained on the repaired, one-per-class targets ("distinct"); the default is now
# the paper's "fish", so a missing key must not read as "fish" (their checkpoints' proxy codes would not match).
_ADDED_SINCE_SCHEMA_1: dict[str, Any] = {
    "nesterov": False,
    "multifus.proxy_codes": "distinct",
    "multifus.fusion_attention": "eca",
    "compile_step": "off",  # those runs trained eager; a resume keeps them eager whatever "auto" comes to mean
    **{block: {} for block in ("dpsh", "hashnet", "fish", "semicon", "a2net", "exchnet", "agmh")},  # their defaults
}


def _upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Read a stored config: drop the derived "reconstructed" block that to_json writes, and fill the options
    added since schema 1 (_ADDED_SINCE_SCHEMA_1) that an older run's config lacks."""
    data = dict(data)
    data.pop("reconstructed", None)
    for dotted, value in _ADDED_SINCE_SCHEMA_1.items():
        block, _, name = dotted.rpartition(".")
        holder = data if not block else data.get(block)
        if isinstance(holder, dict) and name not in holder:
            holder = dict(holder)
            holder[name] = _default_block(name) if isinstance(value, dict) else value
            if block:
                data[block] = holder
            else:
                data = holder
    return data


def _default_block(name: str) -> dict[str, Any]:
    """The default option block `name` of TrainConfig as plain data."""
    return dataclasses.asdict(next(f for f in dataclasses.fields(TrainConfig) if f.name == name).default_factory())


def _build(cls: type, data: dict[str, Any], where: str, complete: bool = False) -> Any:
    """Build a (possibly nested) frozen dataclass from plain JSON data, rejecting unknown keys (and, when
    `complete`, missing ones)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown {where} option(s): {', '.join(unknown)}")
    missing = sorted(names - set(data))
    if complete and missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}: a run's stored config must name every option "
                          f"(a default in its place could differ from what the run was trained with)")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{name} must be an object")
            value = _build(hint, value, f"{where}.{name}", complete)
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = _check_type(value, hint, f"{where}.{name}")
    return cls(**kwargs)


def _check_type(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            choices = ", ".join(map(str, typing.get_args(hint)))
            raise ConfigError(f"{where} must be one of {choices}; got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(hint):
            return None
        for arg in typing.get_args(hint):
            if arg is not type(None):
                return _check_type(value, arg, where)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and not (
        isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{where} must be {hint.__name__}; got {value!r}")
    return value


def validate(cfg: TrainConfig) -> None:
    """Raise ConfigError with a readable message for the first invalid value."""
    if cfg.method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}; got {cfg.method!r}")
    if not 4 <= cfg.bits <= 256:
        raise ConfigError(f"bits must be between 4 and 256; got {cfg.bits}")
    if cfg.backbone not in BACKBONES:
        raise ConfigError(f"backbone must be one of {', '.join(BACKBONES)}; got {cfg.backbone!r}")
    if cfg.compile_step not in COMPILE_STEP_MODES:
        raise ConfigError(f"compile_step must be one of {', '.join(COMPILE_STEP_MODES)}; got {cfg.compile_step!r}")
    if cfg.device not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}; got {cfg.device!r}")
    if cfg.image_size > MAX_IMAGE_SIZE or cfg.resize_size > MAX_RESIZE_SIZE:
        raise ConfigError(
            f"image_size must be <= {MAX_IMAGE_SIZE} and resize_size <= {MAX_RESIZE_SIZE} pixels; got "
            f"{cfg.image_size}/{cfg.resize_size} (the papers use 224-448; memory grows with the square of the size)"
        )
    if cfg.image_size < 16 or cfg.resize_size < cfg.image_size:
        raise ConfigError(
            f"image_size must be >= 16 and resize_size >= image_size; got {cfg.image_size}/{cfg.resize_size}"
        )
    for name in ("epochs", "batch_size", "eval_every"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"{name} must be >= 1; got {getattr(cfg, name)}")
    _check_finite_floats(cfg)
    if cfg.num_workers < 0:
        raise ConfigError(f"num_workers must be >= 0 (0 = load images in the training process); got {cfg.num_workers}")
    if cfg.lr <= 0:
        raise ConfigError(f"lr must be > 0; got {cfg.lr}")
    for name, value in (("momentum", cfg.momentum), ("weight_decay", cfg.weight_decay), ("adsh.gamma", cfg.adsh.gamma),
                        ("fcae.alpha", cfg.fcae.alpha), ("fcae.beta", cfg.fcae.beta)):
        if value < 0:
            raise ConfigError(f"{name} must be >= 0; got {value}")
    if cfg.lr_gamma <= 0:
        raise ConfigError(f"lr_gamma must be > 0; got {cfg.lr_gamma}")
    if cfg.validation == "fraction" and not 0.0 < cfg.val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be between 0 and 1 (exclusive); got {cfg.val_fraction}")
    if cfg.validation not in ("none", "official", "fraction"):
        raise ConfigError(f"validation must be none, official or fraction; got {cfg.validation!r}")
    if cfg.adsh.num_samples < 1 or cfg.adsh.inner_epochs < 1:
        raise ConfigError("adsh.num_samples and adsh.inner_epochs must be >= 1")
    if cfg.fcae.srem_regions < 0 or cfg.fcae.srem_size < 1:
        raise ConfigError("fcae.srem_regions must be >= 0 and fcae.srem_size >= 1")
    if cfg.multifus.attention_heads < 1 or cfg.multifus.attention_depth < 0:
        raise ConfigError("multifus.attention_heads must be >= 1 and attention_depth >= 0")
    if cfg.multifus.cascade_mid_channels < 1 or cfg.multifus.cascade_out_channels < 1:
        raise ConfigError("multifus.cascade_mid_channels and cascade_out_channels must be >= 1")
    if not 0.0 < cfg.multifus.cascade_bn_momentum <= 1.0:
        raise ConfigError(f"multifus.cascade_bn_momentum must be in (0, 1]; got {cfg.multifus.cascade_bn_momentum}")
    if cfg.multifus.use_attention and cfg.multifus.cascade_out_channels % cfg.multifus.attention_heads:
        raise ConfigError(f"multifus.cascade_out_channels ({cfg.multifus.cascade_out_channels}) must be divisible "
                          f"by attention_heads ({cfg.multifus.attention_heads})")
    if cfg.data_cache and cfg.method == "multifusnet" and cfg.multifus.train_augment == "paper":
        raise ConfigError("data_cache supports the random-resized-crop + flip augmentation only; the Multi-FusNet "
                          "paper augmentation (rotation, colour jitter) needs the PIL path: drop --data-cache "
                          "or use --preset code")
    _validate_baselines(cfg)
    _validate_semicon_family(cfg)
    if cfg.dataset_kind != "demo" and not cfg.dataset_root:
        raise ConfigError(f"dataset_root is required for dataset kind {cfg.dataset_kind!r}")


def _check_finite_floats(cfg: TrainConfig) -> None:
    """Every float option (top level and nested) must be a finite number: a NaN or Inf learning rate or loss
    weight trains nothing and only produces NaN weights."""
    groups = (("", cfg), ("adsh.", cfg.adsh), ("fcae.", cfg.fcae), ("multifus.", cfg.multifus),
              ("dpsh.", cfg.dpsh), ("hashnet.", cfg.hashnet), ("fish.", cfg.fish),
              *((f"{name}.", getattr(cfg, name)) for name in SEMICON_FAMILY))
    for prefix, group in groups:
        for f in dataclasses.fields(group):
            value = getattr(group, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{prefix}{f.name} must be a finite number; got {value}")


def _validate_baselines(cfg: TrainConfig) -> None:
    """The DPSH / HashNet / FISH options (docs/baselines.md sections 1, 2, 7)."""
    h, f = cfg.hashnet, cfg.fish
    for name, value in (("dpsh.eta", cfg.dpsh.eta), ("hashnet.sigmoid_param", h.sigmoid_param),
                        ("hashnet.gamma", h.gamma), ("hashnet.power", h.power)):
        if value < 0:
            raise ConfigError(f"{name} must be >= 0; got {value}")
    if h.class_weight <= 0 or h.hash_lr_multiplier <= 0 or not 0 < h.lr_decay <= 1:
        raise ConfigError("hashnet.class_weight and hash_lr_multiplier must be > 0 and lr_decay in (0, 1]")
    if h.step_size < 1 or h.lr_step < 1 or h.iterations_per_epoch < 0:
        raise ConfigError("hashnet.step_size and lr_step must be >= 1 and iterations_per_epoch >= 0")
    if not (0 <= f.class_mask_rate <= 1 and 0 <= f.hide_low <= 1 and 0 <= f.below_mean_weight <= 1):
        raise ConfigError("fish.class_mask_rate, hide_low and below_mean_weight must lie in [0, 1]")
    if cfg.method == "dpsh" and cfg.dpsh.network == "alexnet" and cfg.image_size < 64:
        raise ConfigError(f"DPSH's AlexNet needs image_size >= 64 (its pooling stages); got {cfg.image_size}")
    if cfg.method == "hashnet" and cfg.batch_size < 2:
        raise ConfigError("HashNet pairs two half-batches: batch_size (images per half) must be >= 2")


# The baselines' own protocols (docs/baselines.md): the official code's schedule where the method has one.
# DPSH (jiangqy/DPSH-pytorch): plain SGD lr 0.05, wd 1e-5, batch 128, 150 epochs, lr x0.1 after epochs 51 and
# 101 (0.05 for epochs 1-51, counted from 1). HashNet (thuml/HashNet train.py): SGD Nesterov, momentum 0.9, wd 5e-4,
# lr 3e-4 (x10 on the hash layer), 2 x 36 images per step, 10 000 steps = 20 epochs of 500, lr x0.5 every 2000
# steps (HashNetOptions). FISH (DSH_Analysis set_flag.py fish + cub200): SGD lr 1e-2, momentum 0.9, no weight
# decay, batch 16, 40 outer iterations of 30 epochs over m sampled images, lr x0.1 at 5, 15 and 35.
BASELINE_PAPER_PRESETS: dict[str, dict[str, Any]] = {
    "dpsh": dict(epochs=150, batch_size=128, lr=0.05, momentum=0.0, weight_decay=1e-5, lr_milestones=(51, 101),
                 eval_every=10),
    "hashnet": dict(epochs=20, batch_size=36, lr=3e-4, momentum=0.9, weight_decay=5e-4, lr_milestones=(),
                    eval_every=2),
    "fish": dict(epochs=40, batch_size=16, lr=1e-2, momentum=0.9, weight_decay=0.0, lr_milestones=(5, 15, 35),
                 adsh=AdshOptions(inner_epochs=30)),
}


def paper_preset(method: str, bits: int, **overrides: Any) -> TrainConfig:
    """The papers' schedules: FCAENet section 2.4 (also used for the ADSH baseline), Multi-FusNet section 3.5,
    and the baselines' official ones (BASELINE_PAPER_PRESETS, semicon_family_preset)."""
    if method == "multifusnet":
        return multifusnet_preset("paper", bits, **overrides)
    if method in SEMICON_FAMILY:
        return semicon_family_preset(method, bits, **overrides)
    if method in BASELINE_PAPER_PRESETS:
        base = dict(BASELINE_PAPER_PRESETS[method], method=method, bits=bits)
        if method == "fish" and overrides.get("dataset_kind") in ("nabirds", "vegfru"):
            base["adsh"] = AdshOptions(inner_epochs=30, num_samples=4000)
        base.update(overrides)
        return TrainConfig(**base)
    if bits <= 24:
        base = dict(epochs=40, batch_size=64, lr=1e-3, momentum=0.9, weight_decay=1e-5, lr_milestones=(20, 30))
    else:
        base = dict(epochs=60, batch_size=64, lr=1e-3, momentum=0.9, weight_decay=1e-5,
                    lr_milestones=(30, 45, 55))
    base.update(method=method, bits=bits)
    # m = 4000 sampled images for NABirds and VegFru, 2000 elsewhere (FCAENet section 4.2, SEMICON README);
    # 20 inner epochs per outer iteration (FCAENet section 4.2) is the AdshOptions default.
    if overrides.get("dataset_kind") in ("nabirds", "vegfru"):
        base["adsh"] = AdshOptions(num_samples=4000)
    base.update(overrides)
    return TrainConfig(**base)


# Multi-FusNet's published code (main.py) sets lr / batch per dataset; other datasets use CUB's.
_MULTIFUS_CODE_LR_BATCH = {"cub": (0.008, 128), "aircraft": (0.0035, 32), "vegfru": (0.005, 128),
                           "nabirds": (0.008, 128), "food101": (0.008, 128)}


def multifusnet_preset(kind: str, bits: int, dataset: str | None = None, **overrides: Any) -> TrainConfig:
    """Multi-FusNet settings of docs/methods.md section 3.5, as two presets.

    "paper": 336 crop / 356 resize with the paper's augmentation, SGD momentum 0.91, wd 5e-4,
    lr 0.0035, batch 128, 300 epochs (x0.1 every 80, the code's StepLR), the paper's model options.
    "code": the published code: 224 / 256, RandomResizedCrop + HFlip, SGD momentum 0.9, wd 5e-4,
    lr / batch per dataset, 300 epochs, StepLR(80, 0.1), AMP, validation every epoch, and its
    variants: one shared k=3 ECA, R = P Q Procrustes, align_corners=False zoom, no transformer
    (no commit of the code applies one to the hash feature).
    `dataset` (a DATASET_KINDS name) picks the code's lr / batch and is stored as dataset_kind.
    """
    common = dict(method="multifusnet", bits=bits, epochs=300, weight_decay=5e-4,
                  lr_milestones=(80, 160, 240), lr_gamma=0.1)
    if dataset is not None:
        common["dataset_kind"] = dataset
    if kind == "paper":
        base = dict(common, batch_size=128, lr=0.0035, momentum=0.91, image_size=336, resize_size=356,
                    eval_every=10, multifus=MultiFusOptions(train_augment="paper"))
    elif kind == "code":
        lr, batch = _MULTIFUS_CODE_LR_BATCH.get(dataset or "cub", _MULTIFUS_CODE_LR_BATCH["cub"])
        base = dict(common, batch_size=batch, lr=lr, momentum=0.9, image_size=224, resize_size=256,
                    eval_every=1, amp=True, multifus=MultiFusOptions(
                        eca_kernel="shared_k3", procrustes="as_in_muiltnet", zoom_grid="as_in_muiltnet",
                        use_attention=False, train_augment="code"))
    else:
        raise ConfigError(f"Multi-FusNet preset must be 'paper' or 'code'; got {kind!r}")
    base.update(overrides)
    return TrainConfig(**base)


# ---- SEMICON-family validation and protocols (docs/baselines.md sections 0, 3-6) ---------------------
def _validate_semicon_family(cfg: TrainConfig) -> None:
    if cfg.nesterov and (cfg.momentum <= 0):
        raise ConfigError(f"nesterov needs momentum > 0; got {cfg.momentum}")
    sc, a2, ex, ag = cfg.semicon, cfg.a2net, cfg.exchnet, cfg.agmh
    if sc.alpha < 0 or sc.sigma_eps < 0:
        raise ConfigError(f"semicon.alpha and semicon.sigma_eps must be >= 0; got {sc.alpha}, {sc.sigma_eps}")
    if cfg.method == "semicon" and cfg.bits < 6:
        raise ConfigError(f"semicon needs bits >= 6 (each local branch gets floor(bits / 6) bits); got {cfg.bits}")
    if a2.parts < 0 or not 0.0 <= a2.aux_start <= 1.0 or a2.rec_weight < 0 or a2.dec_weight < 0:
        raise ConfigError("a2net.parts must be >= 0 (0 = bits), aux_start in [0, 1], rec/dec weights >= 0")
    if ex.parts < 2 or ex.align_step < 0 or not 0.0 <= ex.exchange_prob <= 1.0 or ex.hinge < 0:
        raise ConfigError("exchnet.parts must be >= 2, align_step >= 0, exchange_prob in [0, 1], hinge >= 0")
    if min(ex.sp_weight, ex.ch_weight, ex.al_weight, ag.adl_weight) < 0:
        raise ConfigError("exchnet and agmh loss weights must be >= 0")
    if ag.branches < 2 or ag.attention_heads < 1 or ag.attention_slots < 1:
        raise ConfigError("agmh.branches must be >= 2, attention_heads and attention_slots >= 1")


# SEMICON README / run.py per dataset: (lr, outer iterations, lr-step, m); other datasets use CUB's row
_SEMICON_PROTOCOL = {"cub": (2.5e-4, 40, 40, 2000), "aircraft": (2.5e-4, 40, 40, 2000),
                     "food101": (2.5e-4, 50, 45, 2000), "vegfru": (5e-4, 50, 45, 4000),
                     "nabirds": (5e-4, 50, 45, 4000)}


def semicon_family_preset(method: str, bits: int, **overrides: Any) -> TrainConfig:
    """"As its authors ran it" for SEMICON, A2-Net, ExchNet and AGMH: the section 0 protocol (ADSH loop with
    30 inner epochs, batch 16, V starting randn, gamma 200, the "semicon" loss scale, MultiStep 0.1 per outer
    iteration, 224 / 256 px, seed 68) with each method's optimiser and schedule:

    semicon  SGD momentum 0.91 Nesterov, wd 1e-4, lr / iterations / lr-step / m per dataset (_SEMICON_PROTOCOL)
    a2net    SGD momentum 0.9, lr 1e-4, wd 1e-4, 40 iterations, lr-step 35, m 2000 (4000 NABirds, VegFru)
    exchnet  as a2net (DSH_Analysis's ExchNet settings), align_step 35, no quantisation term
    agmh     SGD momentum 0.9 Nesterov, lr 1e-3, wd 1e-4, 60 iterations, lr-step 40, m 2000
    """
    dataset = overrides.get("dataset_kind", "demo")
    big = dataset in ("nabirds", "vegfru")
    if method == "semicon":
        lr, iters, step, m = _SEMICON_PROTOCOL.get(dataset, _SEMICON_PROTOCOL["cub"])
        opt = dict(lr=lr, epochs=iters, lr_milestones=(step,), momentum=0.91, nesterov=True)
    elif method in ("a2net", "exchnet"):
        m = 4000 if big else 2000
        opt = dict(lr=1e-4, epochs=40, lr_milestones=(35,), momentum=0.9, nesterov=False)
    elif method == "agmh":
        m = 2000
        opt = dict(lr=1e-3, epochs=60, lr_milestones=(40,), momentum=0.9, nesterov=True)
    else:
        raise ConfigError(f"{method!r} is not a SEMICON-family method ({', '.join(SEMICON_FAMILY)})")
    base = dict(method=method, bits=bits, batch_size=16, weight_decay=1e-4, lr_gamma=0.1, image_size=224,
                resize_size=256, seed=68, adsh=AdshOptions(num_samples=m, inner_epochs=30, gamma=200.0,
                                                          loss_normalization="semicon", v_init="randn"), **opt)
    base.update(overrides)
    return TrainConfig(**base)
