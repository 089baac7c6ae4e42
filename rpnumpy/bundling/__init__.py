r"""Network bundling: an MLP as two towers, and the fully bundled network fitted in closed form.

The SNNK paper (Sehanobish, Choromanski et al., ICLR 2024) writes one neuron
:math:`f(w^\top x + b)` as the dot product :math:`\Phi(x)^\top\Psi(w, b)` of two
random feature vectors (:mod:`rpnumpy.features`). Applied layer after layer,
this splits a whole MLP into two towers that meet only at the end (the
paper's "bundling"; the recursion below is derived step by step).

The two towers (paper's column convention)
------------------------------------------
For the MLP :math:`y_0 = x`, :math:`y_j = f_j(W_j y_{j-1} + b_j)` with the output
:math:`W_{out} y_L + b_{out}`, replace layer 1 by its SNNK:
:math:`y_1 \approx \Omega_1 z_1` with :math:`z_1 = \Phi_1(x)` and
:math:`\Omega_1 = \Psi_1(W_1, b_1)`. Layer 2's pre-activation
:math:`W_2 y_1 + b_2 \approx (W_2 \Omega_1) z_1 + b_2` is then an ordinary layer
on the input :math:`z_1` with weights :math:`W_2 \Omega_1`, and so on:

.. math::

    z_0 = x,\quad z_j = \Phi_j(z_{j-1}) \qquad
    \Omega_0 = I,\quad \Omega_j = \Psi_j(W_j \Omega_{j-1}, b_j) \qquad
    \hat y = W_{out} \Omega_L z_L + b_{out} = V z_L + b_{out}.

The **input tower** :math:`z_L` has no parameters at all (fixed random
matrices only); the **weight tower** :math:`\Omega_L` never sees the data.

In rpnumpy's row convention
---------------------------
A :class:`~rpnumpy.layers.Dense` layer stores ``W`` of shape ``(d_in, d_out)``
and computes ``x @ W + b``: its ``W`` is the paper's :math:`W_j^\top`. Here
``z`` is a batch of rows, :math:`\Omega_j` (``TwoTowerMLP.weight_tower[j-1]``) has shape ``(d_j, D_j)``
(row ``k`` is the feature vector of neuron ``k``), the weights fed to :math:`\Psi_j` are the rows of
``W_j.T @ Omega_{j-1}``, hidden unit estimates are ``z_j @ Omega_j.T``, and

.. code-block:: text

    y_hat = z_L @ V + b_out,   V = Omega_L.T @ W_out   (shape (D_L, d_out): the paper's V transposed)

What the two-tower form is, and is not
--------------------------------------
* cos, sin, exp, gaussian towers: the first hidden layer is estimated
  **without bias** (``E[z_1 @ Omega_1.T] = f_1(x @ W_1 + b_1)``, exactly). From the
  second layer on it is **not**: layer 2 applies :math:`f_2` to a *noisy*
  pre-activation, and :math:`\mathbb E f_2(s + \nu) \ne f_2(s)` for a
  non-linear :math:`f_2` (for cos and a symmetric error :math:`\nu`,
  :math:`\mathbb E\cos(s + \nu) = \cos s\,\mathbb E\cos\nu`: a shrinkage towards 0).
  The two-tower network converges to the MLP
  as every :math:`m_j \to \infty`, but at finite width it is biased. The trig
  and exp towers also carry :math:`e^{\|z\|^2/2}`, so their error explodes
  unless every input to every tower has norm :math:`\lesssim 1`
  (:mod:`rpnumpy.features` warns).
* relu towers: the ReLU tower :math:`\max(zG, 0)/\sqrt m` is the same map on
  both sides and estimates the **arc-cosine kernel** of its two arguments,
  not :math:`\mathrm{ReLU}(w^\top z + b)`. The two-tower form of a ReLU MLP is
  therefore a *different* network (an arc-cosine kernel network initialised
  from the MLP's weights), not an approximation of the MLP. ReLU towers have
  no bias; ``bundle_mlp`` carries :math:`b_j` by appending a constant 1 to
  the tower's input and :math:`b_j` to the weight (:math:`[w, b]^\top[z, 1] = w^\top z + b`,
  our choice), so the kernel is taken between :math:`[z, 1]` and :math:`[w, b]`.

The fully bundled network
-------------------------
In its extreme form (the paper's "fully bundled network") the MLP's weights
are forgotten: :math:`\hat y = z(x)V + c` (row convention) with the fixed random input tower
:math:`z = \Phi_L\circ\dots\circ\Phi_1` and only :math:`V, c` trained. The
model is linear in its parameters, so for the mean squared error the optimum
is explicit: ridge regression on the features, accumulated over mini-batches
(:class:`~rpnumpy.closed_form.RidgeAccumulator`: :math:`Z^\top Z` and
:math:`Z^\top Y` in float64, intercept not penalised, Cholesky or a
least-squares solve, never an inverse). :class:`FullyBundledNetwork` is a
:class:`~rpnumpy.layers.Sequential` of the fixed :class:`InputTower` and a
:class:`~rpnumpy.layers.Dense` head holding ``V`` and ``c``, so the *same*
model can also be trained by SGD/Adam with :func:`rpnumpy.training.fit`, saved
with :func:`rpnumpy.io.save_model` (the towers as seeds) and compared.

**Renormalisation between towers (ours).** The trig towers map a squared norm
:math:`s` to about :math:`e^{s}` (:math:`\mathbb E\|\Phi(z)\|^2 = e^{\|z\|^2}`),
so a second trig tower sees norms that make it overflow; the ReLU tower halves
the squared norm instead (:math:`\mathbb E\|\Phi(z)\|^2 = \|z\|^2/2`) and is
safe to stack. ``InputTower(radius=r)`` rescales the input of every tower to
norm ``r`` first. In a fully bundled network this is harmless (the features
are just a fixed map and ``V`` is fitted on them); it changes the function, so
the two-tower form of an MLP never uses it.
"""


from .networks import ClosedFormFit, FullyBundledNetwork, one_hot
from .towers import InputTower, L2Normalize, l2_normalize
from .two_tower import ACTIVATION_LAYERS, TwoTowerMLP, bundle_mlp, mlp_forward, split_mlp

__all__ = [
    "ACTIVATION_LAYERS",
    "ClosedFormFit",
    "FullyBundledNetwork",
    "InputTower",
    "L2Normalize",
    "TwoTowerMLP",
    "bundle_mlp",
    "l2_normalize",
    "mlp_forward",
    "one_hot",
    "split_mlp",
]
