"""Planted mistakes for the checks of notebook 00: each one a plausible wrong answer the check must reject."""


def _affine_mean_db(dout, cache):
    x, W, b = cache
    return dout @ W.T, x.T @ dout, dout.mean(axis=0)


def _affine_transposed_dw(dout, cache):
    x, W, b = cache
    return dout @ W.T, dout.T @ x, dout.sum(axis=0)


def _relu_at_zero(dout, x):
    return dout * (x >= 0)


def _relu_mask_only(dout, x):
    return (x > 0).astype(dout.dtype)


#: check name -> wrong answers it must reject.
WRONG = {
    "check_affine_backward": [_affine_mean_db, _affine_transposed_dw],
    "check_relu_backward": [_relu_at_zero, _relu_mask_only],
}
