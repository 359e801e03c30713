"""Vision Transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words: Transformers for
Image Recognition at Scale"), classifying MNIST digits, with a small CNN beside it.

Patches. An image x [C, H, W] is cut into N = (H/p)(W/p) squares of p x p pixels, numbered row
by row: patch n = r (W/p) + c covers rows r p .. r p + p - 1 and columns c p .. c p + p - 1.
Each is flattened (channel, then row, then column inside the patch) to a vector x_n of C p^2
values (``patchify``). MNIST at p = 7 gives 16 patches of 49 pixels.

The model. A learned class token x_cls with no pixels of its own is put in front of the
embedded patches, learned positions are added, and L pre-LayerNorm encoder blocks
(``nn.TransformerEncoderLayer(norm_first=True)``, shared with the rest of minigen) mix them:

    z^0 = [x_cls; x_1 E + b; ...; x_N E + b] + E_pos        E [C p^2, d], E_pos [N + 1, d]
    for l = 1..L:
        z <- z + MSA(LN_1(z))          multi-head self-attention, every token sees every token
        z <- z + W_2 GELU(W_1 LN_2(z) + b_1) + b_2        exact (erf) GELU, per token
    y = LN(z^L_0)                      the class token's last state: ``encode(images)`` [B, d]
    p(digit | x) = softmax(W_head y + b_head)

Training minimises the cross-entropy -log p(digit | x), averaged over the batch (``loss``).

The patch embedding is a Linear over the flattened patches. It is the same map as a p x p
convolution with stride p (whose kernel is E^T reshaped to [d, C, p, p]); the Linear keeps the
patch order and the flattening in plain sight, and ``patchify`` can be checked against NumPy.

The class token reads the image only through attention, so its attention row in layer l,
a_l = softmax_j(q_cls . k_j / sqrt(d_h)) (per head, j over the class token and the N patches),
shows which patches it gathers from: ``attention_maps(images)`` returns it for every layer
and head. ``encode`` is the image encoder a later model (CLIP) reuses: the head only reads it.

Initialisation (the quality protocol's, ``reset_parameters``): the class token 0, positions
and every Linear weight N(0, 0.02^2), counting MultiheadAttention's ``in_proj_weight`` (the q,
k, v projections stacked) and ``out_proj`` as Linear weights; all biases 0; LayerNorms weight
1, bias 0. Weight decay, in the recipe, applies to every parameter.

The baseline, ``SmallCNN``: two 3x3 convolutions (16, 32 channels, each ReLU and 2x2 max-pool),
a 64-unit ReLU layer and the head, with PyTorch's default initialisation; the same training.
"""
from __future__ import annotations

import minigen
from minigen import nn
from minigen.nn import functional as F

from .datasets import DATASETS
from .registry import Recipe, register

__all__ = ["ViT", "SmallCNN", "patchify", "build_vit", "evaluate"]


def patchify(x, p):
    """``x`` [B, C, H, W] -> [B, (H/p)(W/p), C p^2]: the p x p patches in row-major order, each
    flattened channel, row, column."""
    B, C, H, W = x.shape
    if H % p or W % p:
        raise ValueError(f"patchify: patch size {p} does not divide the image size {H}x{W}")
    # [B, C, H/p, p, W/p, p] -> [B, H/p, W/p, C, p, p]: patch (r, c) holds x[:, r p + i, c p + j]
    x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, (H // p) * (W // p), C * p * p)


def _check_images(name, images, image_shape):
    """A clear error unless ``images`` is a float tensor [B, *image_shape]."""
    shape = tuple(getattr(images, "shape", ()))
    if not isinstance(images, minigen.Tensor) or len(shape) != 4 or shape[1:] != tuple(image_shape):
        got = list(shape) if isinstance(images, minigen.Tensor) else type(images).__name__
        raise ValueError(f"{name}: expected images [B, {', '.join(map(str, image_shape))}] "
                         f"(batch, channels, height, width), got {got}")
    if not images.is_floating_point():
        raise TypeError(f"{name}: expected float images in [0, 1], got dtype {images.dtype}")


class _Classifier(nn.Module):
    """What the ViT and the CNN share: logits from ``encode``, the loss, predictions."""

    num_classes = 10

    def forward(self, images):
        """Logits [B, num_classes]."""
        # logits = W_head y + b_head
        return self.head(self.encode(images))

    def loss(self, images, labels):
        """Mean cross-entropy -log p(label | image) over the batch."""
        return F.cross_entropy(self(images), labels)

    def predict(self, images, batch_size=500):
        """The most probable digit of each image, int64 [B]."""
        with minigen.no_grad():
            return minigen.cat([self(images[s:s + batch_size]).argmax(dim=1)
                                for s in range(0, len(images), batch_size)])


class ViT(_Classifier):
    """A Vision Transformer for images ``image_shape`` = (C, H, W) cut into ``patch_size``
    squares: ``depth`` pre-LN encoder blocks of width ``d_model`` with ``nhead`` heads and an
    MLP of ``dim_feedforward`` units, a final LayerNorm on the class token, a linear head."""

    def __init__(self, image_shape=(1, 28, 28), patch_size=7, d_model=64, depth=4, nhead=4,
                 dim_feedforward=128, num_classes=10):
        super().__init__()
        image_shape = tuple(image_shape)
        if len(image_shape) != 3 or not all(isinstance(s, int) and s > 0 for s in image_shape):
            raise ValueError(f"ViT: image_shape must be (channels, height, width), got {image_shape}")
        for name, v in (("patch_size", patch_size), ("d_model", d_model), ("depth", depth),
                        ("nhead", nhead), ("dim_feedforward", dim_feedforward), ("num_classes", num_classes)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"ViT: {name} must be a positive integer, got {v!r}")
        C, H, W = image_shape
        if H % patch_size or W % patch_size:
            raise ValueError(f"ViT: patch_size {patch_size} does not divide the image size {H}x{W}; "
                             f"choose one that divides both (for {H}x{W}: "
                             f"{[p for p in range(1, min(H, W) + 1) if H % p == 0 and W % p == 0]})")
        if d_model % nhead:
            raise ValueError(f"ViT: d_model {d_model} is not divisible by nhead {nhead}")
        self.image_shape, self.patch_size, self.d_model, self.depth = image_shape, patch_size, d_model, depth
        self.nhead, self.dim_feedforward, self.num_classes = nhead, dim_feedforward, num_classes
        self.num_patches = (H // patch_size) * (W // patch_size)
        # E, b: a flattened patch (C p^2 values) to a d-vector
        self.patch_embed = nn.Linear(C * patch_size * patch_size, d_model)
        # x_cls and E_pos (position 0 is the class token's)
        self.cls_token = nn.Parameter(minigen.zeros(1, 1, d_model))
        self.pos_embed = nn.Parameter(minigen.zeros(1, self.num_patches + 1, d_model))
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        """Class token 0; positions, Linear weights and in_proj_weight N(0, 0.02^2); biases 0;
        LayerNorms 1 and 0."""
        for name, p in self.named_parameters():
            if name == "cls_token" or name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.ndim == 1:
                # the LayerNorms' gains, the only 1-D weights
                nn.init.ones_(p)
            else:
                nn.init.normal_(p, 0.0, 0.02)

    def config(self):
        return {"class": "ViT", "image_shape": list(self.image_shape), "patch_size": self.patch_size,
                "d_model": self.d_model, "depth": self.depth, "nhead": self.nhead,
                "dim_feedforward": self.dim_feedforward, "num_classes": self.num_classes}

    def embed(self, images):
        """z^0 [B, N + 1, d]: the class token, then the embedded patches, plus positions."""
        _check_images("ViT", images, self.image_shape)
        B = images.shape[0]
        # x_n E + b for every patch n
        patches = self.patch_embed(patchify(images, self.patch_size))
        # z^0 = [x_cls; x_1 E + b; ...] + E_pos
        return minigen.cat([self.cls_token.expand(B, 1, self.d_model), patches], dim=1) + self.pos_embed

    def encode(self, images):
        """y = LN(z^L_0): the class token's final state, features [B, d]."""
        z = self.encoder(self.embed(images))
        # y = LN(z^L_0)
        return self.norm(z[:, 0])

    def attention_maps(self, images):
        """The class token's attention to the patches, ``[B, L, H, N]``: entry (b, l, h, n) is
        head h's weight on patch n (row-major) in layer l. The rest of each row, 1 - sum_n, is
        the weight the class token gives itself. The layers are run one at a time, each
        attention asked for its weights (``need_weights``); the output is unchanged."""
        z = self.embed(images)
        maps = []
        for layer in self.encoder.layers:
            # the block's attention input LN_1(z), and its weights [B, H, N + 1, N + 1]
            a = layer.norm1(z)
            _, w = layer.self_attn(a, a, a, need_weights=True, average_attn_weights=False)
            # row 0 is the class token's query; columns 1.. are the patches
            maps.append(w[:, :, 0, 1:])
            z = layer(z)
        return minigen.stack(maps, dim=1)


class SmallCNN(_Classifier):
    """The baseline: conv 3x3 (16) - ReLU - pool 2, conv 3x3 (32) - ReLU - pool 2, a 64-unit ReLU
    layer, the head. Height and width must be multiples of 4 (two poolings)."""

    def __init__(self, image_shape=(1, 28, 28), channels=(16, 32), hidden=64, num_classes=10):
        super().__init__()
        image_shape = tuple(image_shape)
        C, H, W = image_shape
        if H % 4 or W % 4:
            raise ValueError(f"SmallCNN: height and width must be multiples of 4 (two 2x2 poolings), "
                             f"got {H}x{W}")
        self.image_shape, self.channels, self.hidden, self.num_classes = image_shape, tuple(channels), hidden, num_classes
        c1, c2 = self.channels
        self.features = nn.Sequential(
            nn.Conv2d(C, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * (H // 4) * (W // 4), hidden), nn.ReLU())
        self.head = nn.Linear(hidden, num_classes)

    def config(self):
        return {"class": "SmallCNN", "image_shape": list(self.image_shape), "channels": list(self.channels),
                "hidden": self.hidden, "num_classes": self.num_classes}

    def encode(self, images):
        """The 64 features the head reads, [B, hidden]."""
        _check_images("SmallCNN", images, self.image_shape)
        return self.features(images)


# ----------------------------------------------------------------------------- registry
# the protocol's sizes on MNIST; the 8x8 digits get 2x2 patches (16 of them, as MNIST's 7x7)
SIZES = {"mnist": dict(patch_size=7, d_model=64, depth=4, nhead=4, dim_feedforward=128),
         "digits": dict(patch_size=2, d_model=64, depth=4, nhead=4, dim_feedforward=128)}
QUICK = dict(d_model=16, depth=1, nhead=2, dim_feedforward=32)


def build_vit(data="mnist", variant="vit", **options):
    """The ViT (``variant='vit'``) or the small CNN (``'cnn'``) for the digit images of ``data``
    (``'mnist'`` or ``'digits'``); ``options`` override the sizes."""
    spec = DATASETS[data]
    if data not in SIZES:
        raise ValueError(f"vit: classifies the digit images 'mnist' or 'digits'; got {data!r} ({spec.kind})")
    if variant == "cnn":
        cnn = {k: v for k, v in options.items() if k in ("channels", "hidden")}
        return SmallCNN(spec.shape, **cnn)
    return ViT(spec.shape, **dict(SIZES[data], **options))


def evaluate(model, data, k=None):
    """Test accuracy and mean test NLL (nats) over the whole test set."""
    x, y = data.test_loader.dataset.tensors[:2]
    correct, nll = 0, 0.0
    with minigen.no_grad():
        for s in range(0, len(x), 500):
            logits = model(x[s:s + 500])
            correct += (logits.argmax(dim=1) == y[s:s + 500]).sum().item()
            nll += F.cross_entropy(logits, y[s:s + 500], reduction="sum").item()
    return {"test_accuracy": correct / len(x), "test_nll": nll / len(x)}


def _pictures(model, run_dir, data):
    from minigen import plots
    x, y = data.test_loader.dataset.tensors[:2]
    return plots.classifier_pictures(model, run_dir, x, y)


def sample_predictions(model, spec, args):
    """``minigen sample vit``: a classifier draws nothing new, so it labels the first ``--n``
    (default 50) test images into ``--out`` (.png, default predictions.png beside the
    checkpoint), and a ViT also draws its class token's attention (``NAME-attention.png``)."""
    import os
    from minigen import plots
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "predictions.png")
    if os.path.splitext(out)[1].lower() != ".png":
        raise ValueError(f"--out: a classifier writes its predicted labels as a .png grid, got {out!r}")
    x, y = spec.images("test").to(args.device), spec.labels("test").to(args.device)
    stem = os.path.splitext(os.path.basename(out))[0]
    paths = plots.classifier_pictures(model, os.path.dirname(os.path.abspath(out)), x, y, n=args.n or 50,
                                      predictions_name=os.path.basename(out),
                                      attention_name=f"{stem}-attention.png")
    print("wrote " + " and ".join(paths))
    return 0


register("vit", build_vit, Recipe(
    data="mnist", epochs=15, batch_size=64, lr=1e-3, optimizer="adamw", weight_decay=0.05,
    schedule="cosine", variants=("vit", "cnn"), data_options={"labels": True},
    quick=dict(epochs=1, steps=10, batch_size=16, model_options=QUICK),
    pictures=_pictures, evaluate=evaluate, sample=sample_predictions,
    description="ViT: patches, a class token, learned positions and pre-LN encoder blocks; a small CNN beside it"))
