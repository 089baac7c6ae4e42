"""Optimizers: the update rules step by step, in-place updates, and agreement with PyTorch if present."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_grads_sequence, run_planted_steps

from rpnumpy.fast import FusedAdam
from rpnumpy.layers import Dense, ReLU, Sequential
from rpnumpy.optim import SGD, Adam


def test_adam_matches_the_textbook_formula(rng):
    model = Dense(4, 3, rng=0)
    start = {k: v.copy() for k, v in model.params.items()}
    seq = random_grads_sequence(model, rng)
    lr, b1, b2, eps = 0.01, 0.8, 0.99, 1e-6
    run_planted_steps(model, Adam(model, lr=lr, betas=(b1, b2), eps=eps), seq)
    for key in start:
        p, m, v = start[key].copy(), 0.0, 0.0
        for t, grads in enumerate(seq, start=1):
            g = grads[key]
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            p = p - lr / (1 - b1**t) * m / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps)
        np.testing.assert_allclose(model.params[key], p, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("momentum", "decay"), [(0.0, 0.0), (0.9, 0.0), (0.5, 0.01)])
def test_sgd_matches_the_formula(momentum, decay, rng):
    model = Dense(4, 3, rng=0)
    start = {k: v.copy() for k, v in model.params.items()}
    seq = random_grads_sequence(model, rng)
    run_planted_steps(model, SGD(model, lr=0.1, momentum=momentum, weight_decay=decay), seq)
    for key in start:
        p, v = start[key].copy(), None
        for grads in seq:
            g = grads[key] + decay * p
            v = g if v is None else momentum * v + g
            p = p - 0.1 * (v if momentum else g)
        np.testing.assert_allclose(model.params[key], p, rtol=1e-13, atol=1e-15)


def test_updates_are_in_place_and_float32_stays_float32(rng):
    model = Sequential(Dense(4, 3, rng=0, dtype=np.float32), ReLU(), Dense(3, 2, rng=1, dtype=np.float32))
    ids = {k: id(v) for k, v in model.params.items()}
    for opt in (Adam(model, lr=1e-3, weight_decay=1e-4), FusedAdam(model, lr=1e-3, weight_decay=1e-4),
                SGD(model, lr=0.1, momentum=0.9)):
        steps = [{k: g.astype(np.float32) for k, g in s.items()} for s in random_grads_sequence(model, rng, 2)]
        run_planted_steps(model, opt, steps)
    for key, value in model.params.items():
        assert id(value) == ids[key] and value.dtype == np.float32
        assert value is model.layers[int(key[0])].params[key[2:]]


def test_optimizer_validation():
    model = Dense(2, 2, rng=0)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got -0.1"):
        SGD(model, lr=-0.1)
    with pytest.raises(ValueError, match=r"momentum must lie in \[0, 1\), got 1.0"):
        SGD(model, lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match=r"betas\[1\] must lie in \[0, 1\), got 1.5"):
        Adam(model, betas=(0.9, 1.5))
    with pytest.raises(TypeError, match=r"model must have 'params' and 'grads' dictionaries, got list"):
        Adam([1, 2])


@pytest.mark.torch
def test_adam_and_sgd_agree_with_pytorch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional extra (pip install -e .[torch])")
    for make in (lambda m: (Adam(m, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
                 lambda m: (FusedAdam(m, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
                 lambda m: (SGD(m, lr=0.05, momentum=0.9, weight_decay=0.01),
                            lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01))):
        model = Dense(4, 3, rng=0)
        ours, theirs_factory = make(model)
        tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in model.params.items()}
        theirs = theirs_factory(list(tparams.values()))
        for grads in random_grads_sequence(model, rng, 6):
            for key, g in grads.items():
                model.grads[key][...] = g
                tparams[key].grad = torch.from_numpy(g.copy())
            ours.step()
            theirs.step()
        for key in tparams:
            np.testing.assert_allclose(model.params[key], tparams[key].detach().numpy(), rtol=1e-12, atol=1e-14)
