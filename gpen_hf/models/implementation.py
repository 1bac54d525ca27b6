"""Named implementations of the layers, and the one switch that picks them for a whole model.

Every layer with a costly op computes the same function in more than one way:

* ``"grouped"``: the authors' form (per-sample weights with a grouped convolution, ``upfirdn2d`` by zero
  insertion/padding/single-channel convolution, bias + leaky ReLU + gain as separate ops). The ground truth of
  the tests, and measured fastest on CUDA (``benchmarks/RESULTS.md``).
* ``"folded"`` (default): the CPU fast path. ``channels_last`` activations (oneDNN's native layout), FIR filters
  as depthwise convolutions with the padding inside, the activation gain ``sqrt(2)`` and the biases folded into
  the convolutions, in-place leaky ReLU at inference, and the modulated convolution in the cheapest exact form
  for the batch: style and demodulation folded into the weight for batch 1 (one plain convolution), modulated
  activations with a shared weight for larger batches (``conv(x * s, W) * d == conv(x, W * s * d)``).

* ``"winograd"``: ``"folded"``, except that the wide, big stride-1 3x3 modulated convolutions run as Winograd
  F(4x4, 3x3) (:mod:`.winograd`; ~10 % off GPEN-512 on a 2-core AVX2 CPU, opt-in).

A layer that has no form of its own for a mode runs its ``"folded"`` path in it.

Adding a mode (e.g. ``"winograd"`` for the 3x3 modulated convolutions): add its name to :data:`IMPLEMENTATIONS`,
to the ``implementations`` of the layers that have it, and one ``if self.impl == "winograd":`` branch to their
``forward``. :func:`set_implementation` then reaches it; nothing else changes.
"""

from __future__ import annotations

from torch import nn

#: every mode :func:`set_implementation` accepts
IMPLEMENTATIONS = ("grouped", "folded", "winograd")
DEFAULT_IMPLEMENTATION = "folded"


class Implemented:
    """Mixin of the layers with several implementations: ``impl`` is the one in use, ``implementations``
    the ones the layer has."""

    implementations: tuple[str, ...] = ("grouped", "folded")
    impl: str = DEFAULT_IMPLEMENTATION


def set_implementation(model: nn.Module, impl: str) -> nn.Module:
    """Switch every layer of ``model`` to the implementation ``impl`` (see the module docstring); returns it.

    Used by the pipeline (:func:`gpen_hf.pipeline.use_fastest_path`), the ONNX export and the tests.
    """
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"unknown implementation {impl!r}; choose from {IMPLEMENTATIONS}")
    for module in model.modules():
        if isinstance(module, Implemented):
            module.impl = impl if impl in module.implementations else DEFAULT_IMPLEMENTATION
    return model
