r"""Layer-wise knowledge transfer without back-propagation: a trained MLP becomes an EUGen network.

The EUGen paper (Kim et al., "EUGens: Efficient, Unified, and General Dense Layers", NeurIPS 2025,
arXiv:2601.22563) distils a pre-trained network
into EUGen layers one layer at a time. With the random matrices :math:`G_{ij}` fixed, an
EUGen layer :math:`y = F(x) A + b` is linear in its trainable read-out :math:`(A, b)`, so
fitting it to the teacher's outputs is a ridge least-squares problem with a closed-form
solution: no gradient is ever computed.

Recipe (what :func:`transfer` does)
-----------------------------------
Walk the teacher, a :class:`~rpnumpy.layers.Sequential` of :class:`~rpnumpy.layers.Dense`
layers, element-wise activations and parameter-free layers. Every ``Dense`` followed by an
activation :math:`\sigma` is a *hidden pair* :math:`x \mapsto \sigma(xW + b)`, and is replaced,
first to last, by a new layer built by ``make_layer(d_in, d_out, dtype)``:

1. **Inputs.** :math:`X` are the calibration inputs as they arrive at the pair, either through
   the *student's* already-converted layers (``inputs="student"``, the default: each layer
   learns to correct the errors of the layers before it) or through the *teacher's*
   (``inputs="teacher"``, for comparison: every layer is fitted in isolation).
2. **Targets.** :math:`Y` are the teacher's outputs of the pair, :math:`\sigma(X_T W + b)`,
   computed from the teacher's own inputs :math:`X_T` (the student should reproduce the
   teacher, not the teacher's response to the student's errors).
3. **Closed form.** With features :math:`Z = F(X)` minus the constant column (the intercept
   replaces it), the read-out minimises

   .. math:: \|Z A + \mathbf 1 b^\top - Y\|_F^2 + \lambda \|A\|_F^2 ,\qquad
             \lambda = \lambda_{rel}\cdot\operatorname{tr}(Z^\top Z)/D ,

   the intercept :math:`b` unpenalised. :math:`Z^\top Z` and :math:`Z^\top Y` are summed over
   mini-batches of ``batch_size`` rows in float64 (:class:`~rpnumpy.closed_form.RidgeAccumulator`),
   so the :math:`N\times M` feature matrix is never stored (memory: :math:`O(M^2 + Mt)` for the
   sums, plus the student's and the teacher's activations at the current depth), and the system
   is solved by Cholesky. The relative :math:`\lambda_{rel}` (default :math:`10^{-6}`; values from
   :math:`10^{-6}` to :math:`10^{-3}` of :math:`\operatorname{tr}(Z^\top Z)/D` are sensible) is ours.
4. **Linear-layer merging** (``merge=True``; the paper merges a linear layer into the EUGen layer
   before it). When the activation is followed
   by a linear layer :math:`y = hV + c` (the next ``Dense``), the pair *and* that layer are
   replaced by one layer fitted directly against the merged block's output
   :math:`\sigma(X_T W + b)V + c`. Its read-out is :math:`A' = AV` (row convention; the
   paper's :math:`VA`), so the wide hidden width disappears: the replaced block's
   :math:`d\,h + h + h\,t + t` parameters become :math:`M t + t` (:math:`M = 1 + mk` for
   EUGen) instead of :math:`M h + h + h t + t` without merging. Because the ridge solution is
   linear in the targets (and :math:`\lambda` depends only on :math:`Z`), fitting against the
   merged output gives exactly :func:`merge_linear` of the unmerged fit.
5. **The data-free variant** (``method="data_free"``, EUGen only; Theorem 3.1). No regression:
   row :math:`r` of :math:`A^\top` is the weight-side feature :math:`g(w_r)` of the teacher's
   weights, :meth:`EUGen.weight_features <rpnumpy.layers.eugen.EUGen.weight_features>`, for a
   degree-:math:`k` polynomial :math:`p \approx \sigma` fitted by
   :func:`~rpnumpy.polyfit.fit_polynomial` on :math:`[-R, R]`, :math:`R` the
   ``interval_quantile`` quantile of :math:`|XW + b|` over the calibration inputs. The output
   is then an unbiased (but noisy) estimate of :math:`p(XW + b)`; calibration data set only
   the interval.

Layers that are not replaced are copied (the output layer, say); with ``refit_dense=True`` a
copied ``Dense`` is itself re-fitted in closed form to the teacher's output from the student's
inputs (ours: the same least squares, applied to the read-out layer).

The same machinery fits other layers whose output is linear in their trainable arrays, for
comparisons at matched parameter counts: :class:`~rpnumpy.layers.snnk.SNNK` (its fixed tower
:math:`\Phi(x)` plays the role of :math:`F(x)`) and :class:`~rpnumpy.layers.LowRank` (the
closed-form *reduced-rank* ridge regression, see :func:`fit_layer`).

Examples
--------
>>> import numpy as np
>>> from rpnumpy.layers import Dense, ReLU, Sequential
>>> teacher = Sequential(Dense(6, 16, rng=0), ReLU(), Dense(16, 3, rng=1))
>>> x = np.random.default_rng(0).standard_normal((500, 6))
>>> student, report = transfer_to_eugen(teacher, x, m=8, order=2, merge=True, rng=0)
>>> [type(layer).__name__ for layer in student.layers]
['EUGen']
>>> report.student_params, report.teacher_params
(54, 163)
"""

from ..layers import PolynomialActivation
from .chain import LayerTransfer, TransferReport, transfer, transfer_to_eugen
from .factories import EUGenFactory, LowRankFactory, SNNKFactory
from .fit import BATCH_SIZE, fit_layer, merge_linear, set_data_free

__all__ = [
    "BATCH_SIZE",
    "EUGenFactory",
    "LayerTransfer",
    "LowRankFactory",
    "PolynomialActivation",
    "SNNKFactory",
    "TransferReport",
    "fit_layer",
    "merge_linear",
    "set_data_free",
    "transfer",
    "transfer_to_eugen",
]
