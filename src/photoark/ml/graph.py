"""Build the EfficientNet-Lite0 inference graph as ONNX from numpy weights.

The checkpoint's names follow the ``efficientnet_pytorch`` layout (``_conv_stem``, ``_bn0``,
``_blocks.N._expand_conv`` / ``_depthwise_conv`` / ``_project_conv`` with ``_bn0..2``,
``_conv_head``, ``_bn1``, ``_fc``). Lite0 is EfficientNet-B0 without squeeze-excite and with
ReLU6 instead of swish; its convolutions use TensorFlow "SAME" padding (the extra pixel at the
bottom/right), which for the fixed 224x224 input becomes explicit ONNX pads. Batch norm (eps
1e-3, as in the TensorFlow original) is folded into each convolution's weights and bias.

The graph takes ``pixels``: uint8 RGB, NHWC, shape ``(N, 224, 224, 3)``; it normalises with
``(x - 127) / 128`` inside, as EfficientNet-Lite was trained. Outputs: ``embedding``, the
1280-d globally pooled feature, L2-normalised (N, 1280); ``logits``, the ImageNet-1k scores
(N, 1000), for sanity checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from photoark.ml.errors import CheckpointError
from photoark.ml.identity import EMBEDDING_DIM, GRAPH_VERSION, INPUT_SIZE

__all__ = [
    "BN_EPSILON",
    "EMBEDDING_DIM",
    "GRAPH_VERSION",
    "INPUT_MEAN",
    "INPUT_SIZE",
    "INPUT_STD",
    "LITE0_BLOCKS",
    "BlockSpec",
    "build_lite0",
]

INPUT_MEAN: Final = 127.0
INPUT_STD: Final = 128.0
BN_EPSILON: Final = 1e-3
OPSET: Final = 17
IR_VERSION: Final = 8

Weights = dict[str, npt.NDArray[Any]]


@dataclass(frozen=True)
class BlockSpec:
    """One MBConv block: expansion ratio, kernel, stride, input and output channels."""

    expand: int
    kernel: int
    stride: int
    cin: int
    cout: int


def _stage(
    repeats: int, expand: int, kernel: int, stride: int, cin: int, cout: int
) -> list[BlockSpec]:
    first = BlockSpec(expand, kernel, stride, cin, cout)
    return [first] + [BlockSpec(expand, kernel, 1, cout, cout) for _ in range(repeats - 1)]


# EfficientNet-B0's stages (Lite0 keeps them, width and depth multipliers 1.0): 16 blocks.
LITE0_BLOCKS: Final[tuple[BlockSpec, ...]] = tuple(
    _stage(1, 1, 3, 1, 32, 16)
    + _stage(2, 6, 3, 2, 16, 24)
    + _stage(2, 6, 5, 2, 24, 40)
    + _stage(3, 6, 3, 2, 40, 80)
    + _stage(3, 6, 5, 1, 80, 112)
    + _stage(4, 6, 5, 2, 112, 192)
    + _stage(1, 6, 3, 1, 192, 320)
)


def _same_pads(size: int, kernel: int, stride: int) -> tuple[list[int], int]:
    """TensorFlow SAME padding for a square input: ONNX pads [t, l, b, r] and the output size."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    before = total // 2
    after = total - before
    return [before, before, after, after], out


class _GraphBuilder:
    """Accumulates nodes and initializers; each method returns its output's name."""

    def __init__(self, weights: Weights) -> None:
        self._weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0
        self.used: set[str] = set()

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def weight(self, name: str, shape: tuple[int, ...] | None = None) -> npt.NDArray[np.float32]:
        self.used.add(name)
        try:
            array = self._weights[name]
        except KeyError as err:
            raise CheckpointError(f"checkpoint lacks {name}") from err
        if shape is not None and array.shape != shape:
            raise CheckpointError(f"{name}: shape {array.shape}, expected {shape}")
        return np.asarray(array, dtype=np.float32)

    def const(self, stem: str, value: npt.NDArray[Any]) -> str:
        name = self._name(stem)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attrs: Any) -> str:
        out = self._name(stem)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv_bn(
        self,
        x: str,
        conv: str,
        bn: str,
        shape: tuple[int, int, int, int],
        stride: int,
        size: int,
        groups: int = 1,
    ) -> tuple[str, int]:
        """Conv (no bias) + batch norm folded into one Conv; returns output and its size."""
        w = self.weight(f"{conv}.weight", shape)
        cout = shape[0]
        gamma = self.weight(f"{bn}.weight", (cout,))
        beta = self.weight(f"{bn}.bias", (cout,))
        mean = self.weight(f"{bn}.running_mean", (cout,))
        var = self.weight(f"{bn}.running_var", (cout,))
        scale = gamma / np.sqrt(var + BN_EPSILON)
        folded_w = (w * scale[:, None, None, None]).astype(np.float32)
        folded_b = (beta - mean * scale).astype(np.float32)
        kernel = shape[2]
        pads, out_size = _same_pads(size, kernel, stride)
        y = self.node(
            "Conv",
            [x, self.const(f"{conv}.w", folded_w), self.const(f"{conv}.b", folded_b)],
            conv.replace(".", "/"),
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=pads,
            group=groups,
        )
        return y, out_size

    def relu6(self, x: str) -> str:
        lo = self.const("zero", np.array(0.0, dtype=np.float32))
        hi = self.const("six", np.array(6.0, dtype=np.float32))
        return self.node("Clip", [x, lo, hi], "relu6")


def _mbconv(g: _GraphBuilder, x: str, index: int, spec: BlockSpec, size: int) -> tuple[str, int]:
    prefix = f"_blocks.{index}"
    hidden = spec.cin * spec.expand
    y = x
    if spec.expand != 1:
        y, _ = g.conv_bn(
            y, f"{prefix}._expand_conv", f"{prefix}._bn0", (hidden, spec.cin, 1, 1), 1, size
        )
        y = g.relu6(y)
    k = spec.kernel
    y, out_size = g.conv_bn(
        y,
        f"{prefix}._depthwise_conv",
        f"{prefix}._bn1",
        (hidden, 1, k, k),
        spec.stride,
        size,
        groups=hidden,
    )
    y = g.relu6(y)
    y, _ = g.conv_bn(
        y, f"{prefix}._project_conv", f"{prefix}._bn2", (spec.cout, hidden, 1, 1), 1, out_size
    )
    if spec.stride == 1 and spec.cin == spec.cout:
        y = g.node("Add", [y, x], f"{prefix}/skip")
    return y, out_size


def build_lite0(weights: Weights) -> onnx.ModelProto:
    """Build and check the Lite0 graph from a state dict (see the module docstring).

    Deterministic: the same weights give byte-identical serialised models. Raises
    :class:`CheckpointError` when a weight is missing or has an unexpected shape, or when the
    state dict holds a tensor the graph does not use (such as squeeze-excite weights: not Lite).
    """
    g = _GraphBuilder(weights)
    pixels = "pixels"
    x = g.node("Cast", [pixels], "cast", to=TensorProto.FLOAT)
    x = g.node("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
    x = g.node("Sub", [x, g.const("mean", np.array(INPUT_MEAN, dtype=np.float32))], "centre")
    x = g.node("Mul", [x, g.const("inv_std", np.array(1.0 / INPUT_STD, dtype=np.float32))], "scale")
    size = INPUT_SIZE
    x, size = g.conv_bn(x, "_conv_stem", "_bn0", (32, 3, 3, 3), 2, size)
    x = g.relu6(x)
    for index, spec in enumerate(LITE0_BLOCKS):
        x, size = _mbconv(g, x, index, spec, size)
    x, size = g.conv_bn(x, "_conv_head", "_bn1", (EMBEDDING_DIM, 320, 1, 1), 1, size)
    x = g.relu6(x)
    pooled = g.node("GlobalAveragePool", [x], "pool")
    feature = g.node("Flatten", [pooled], "feature", axis=1)
    fc_w = g.weight("_fc.weight", (1000, EMBEDDING_DIM))
    fc_b = g.weight("_fc.bias", (1000,))
    g.nodes.append(
        helper.make_node(
            "Gemm",
            [feature, g.const("fc.w", fc_w), g.const("fc.b", fc_b)],
            ["logits"],
            name="fc",
            transB=1,
        )
    )
    g.nodes.append(
        helper.make_node("LpNormalization", [feature], ["embedding"], name="l2", axis=1, p=2)
    )
    _check_all_used(weights, g)
    graph = helper.make_graph(
        g.nodes,
        "efficientnet_lite0",
        [
            helper.make_tensor_value_info(
                pixels, TensorProto.UINT8, ["N", INPUT_SIZE, INPUT_SIZE, 3]
            )
        ],
        [
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", EMBEDDING_DIM]),
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000]),
        ],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="photoark",
        producer_version=str(GRAPH_VERSION),
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def _check_all_used(weights: Weights, g: _GraphBuilder) -> None:
    unused = {
        name for name in weights if name not in g.used and not name.endswith(".num_batches_tracked")
    }
    if unused:
        raise CheckpointError(f"checkpoint tensors not used by Lite0: {sorted(unused)[:5]}")
