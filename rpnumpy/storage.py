"""Storage accounting: trainable parameters, bytes on disk with seeds or stored matrices, bits per accuracy.

The "Bit Efficiency Score" of the PRP paper is not available in any public
text, so rpnumpy does not compute it. It defines its own, plainly named
figure instead:

    bits per accuracy point (rpnumpy's) = 8 x (bytes of the saved model file) / (test accuracy in %)

the number of stored bits that buy each percentage point of accuracy; lower
is better. It is computed twice: with fixed random matrices regenerated from
their seeds (what rpnumpy stores) and with the matrices stored.
"""

from __future__ import annotations

from typing import Any

from .io import model_file_size
from .layers.base import Layer

__all__ = ["storage_report", "bits_per_accuracy_point"]


def bits_per_accuracy_point(file_bytes: int, accuracy: float) -> float:
    """rpnumpy's storage figure: ``8 * file_bytes / (100 * accuracy)`` (accuracy as a fraction in (0, 1])."""
    if not 0 < accuracy <= 1:
        raise ValueError(f"accuracy must be a fraction in (0, 1], got {accuracy!r}")
    return 8 * file_bytes / (100 * accuracy)


def storage_report(model: Layer, accuracy: float | None = None) -> dict[str, Any]:
    """Counts and sizes for one model.

    Returns
    -------
    dict
        ``trainable`` (values), ``fixed`` (values in buffers), ``bytes_seeded``
        (the saved file, buffers regenerated from seeds), ``bytes_stored`` (the
        file with every buffer stored) and, when ``accuracy`` is given,
        ``bits_per_point_seeded`` and ``bits_per_point_stored``.
    """
    seeded = model_file_size(model)
    stored = model_file_size(model, store_buffers=True)
    report: dict[str, Any] = {
        "trainable": int(model.n_params),
        "fixed": int(model.n_buffer_values),
        "bytes_seeded": seeded,
        "bytes_stored": stored,
    }
    if accuracy is not None:
        report["bits_per_point_seeded"] = bits_per_accuracy_point(seeded, accuracy)
        report["bits_per_point_stored"] = bits_per_accuracy_point(stored, accuracy)
    return report
