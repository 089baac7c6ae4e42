"""Conv2D and MaxPool2D: gradients, values against naive loops and PyTorch, dtypes, validation, configs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rpnumpy.experiments.foundations import away_from_zero
from rpnumpy.gradcheck import PASS_THRESHOLD, check_gradients
from rpnumpy.layers import Dense, Flatten, ReLU, Sequential, layer_from_config
from rpnumpy.layers.base import LAYER_REGISTRY
from rpnumpy.layers.conv import Conv2D, MaxPool2D
from rpnumpy.testing import check_backward_contract

# (in_channels, out_channels, kernel_size, stride, padding, input shape)
CONV_CONFIGS = [
    (1, 2, 3, 1, 0, (2, 1, 6, 6)),
    (3, 4, 3, 2, 1, (2, 3, 7, 7)),
    (2, 3, (2, 3), (2, 1), (1, 2), (2, 2, 5, 6)),
    (2, 2, 5, 1, 2, (2, 2, 6, 5)),
    (2, 3, 3, 3, 0, (1, 2, 8, 7)),  # stride 3: the last rows/columns are never read
    (3, 2, 1, 1, 0, (2, 3, 4, 3)),  # 1x1 kernel
]
CONV_IDS = [f"C{c[0]}-F{c[1]}-k{c[2]}-s{c[3]}-p{c[4]}" for c in CONV_CONFIGS]

# (pool_size, stride, input shape)
POOL_CONFIGS = [
    (2, None, (2, 3, 6, 6)),
    (2, None, (2, 2, 7, 5)),  # not divisible: the last row is dropped
    (3, 2, (2, 2, 7, 7)),  # overlapping windows
    ((2, 3), (1, 2), (1, 2, 5, 7)),  # rectangular, overlapping along the height
    (2, 3, (1, 2, 8, 8)),  # stride larger than the pool: gaps
]
POOL_IDS = [f"k{c[0]}-s{c[1]}-{'x'.join(map(str, c[2]))}" for c in POOL_CONFIGS]


def build_conv(config, dtype=np.float64, rng=0):
    c_in, c_out, kernel, stride, padding, _ = config
    return Conv2D(c_in, c_out, kernel, stride=stride, padding=padding, rng=rng, dtype=dtype)


def distinct_values(rng, shape):
    """Distinct values 0.1 apart in random order: no two entries within a central-difference step."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) - np.prod(shape) / 2) * 0.1


def small_cnn(dtype=np.float64):
    return Sequential(
        Conv2D(2, 3, 3, padding=1, rng=0, dtype=dtype),
        ReLU(),
        MaxPool2D(2),
        Flatten(),
        Dense(3 * 4 * 4, 5, rng=1, dtype=dtype),
    )


# -- naive reference implementations (explicit loops) -------------------------


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def naive_conv(x, w, b, stride, padding):
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph : ph + h, pw : pw + wd] = x
    ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, f, ho, wo))
    for i_n in range(n):
        for i_f in range(f):
            for i in range(ho):
                for j in range(wo):
                    total = b[i_f]
                    for i_c in range(c):
                        for u in range(kh):
                            for v in range(kw):
                                total += w[i_f, i_c, u, v] * xp[i_n, i_c, sh * i + u, sw * j + v]
                    y[i_n, i_f, i, j] = total
    return y


def naive_conv_backward(x, w, dy, stride, padding):
    """dW, db, dx by accumulating every product of the forward sum, one at a time."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph : ph + h, pw : pw + wd] = x
    dw, db, dxp = np.zeros_like(w), np.zeros(f), np.zeros_like(xp)
    for i_n in range(n):
        for i_f in range(f):
            for i in range(dy.shape[2]):
                for j in range(dy.shape[3]):
                    g = dy[i_n, i_f, i, j]
                    db[i_f] += g
                    for i_c in range(c):
                        for u in range(kh):
                            for v in range(kw):
                                dw[i_f, i_c, u, v] += g * xp[i_n, i_c, sh * i + u, sw * j + v]
                                dxp[i_n, i_c, sh * i + u, sw * j + v] += g * w[i_f, i_c, u, v]
    return dw, db, dxp[:, :, ph : ph + h, pw : pw + wd]


def naive_maxpool(x, pool, stride, dy=None):
    """Forward values and (if dy is given) the gradient, first maximum in row-major order winning."""
    (kh, kw) = pair(pool)
    (sh, sw) = pair(stride if stride is not None else pool)
    n, c, h, w = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    y, dx = np.zeros((n, c, ho, wo)), np.zeros_like(x)
    for i_n in range(n):
        for i_c in range(c):
            for i in range(ho):
                for j in range(wo):
                    best, where = -np.inf, None
                    for u in range(kh):
                        for v in range(kw):
                            value = x[i_n, i_c, sh * i + u, sw * j + v]
                            if value > best:
                                best, where = value, (sh * i + u, sw * j + v)
                    y[i_n, i_c, i, j] = best
                    if dy is not None:
                        dx[i_n, i_c, where[0], where[1]] += dy[i_n, i_c, i, j]
    return y, dx


# -- gradient checks ----------------------------------------------------------


@pytest.mark.parametrize("config", CONV_CONFIGS, ids=CONV_IDS)
def test_conv_gradients_match_central_differences(config, rng):
    layer = build_conv(config)
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)  # a non-zero bias
    report = check_gradients(layer, rng.standard_normal(config[-1]), rng=1)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    assert {row.name for row in report.rows} == {"W", "b", "x"}


@pytest.mark.parametrize(("pool", "stride", "shape"), POOL_CONFIGS, ids=POOL_IDS)
def test_maxpool_gradients_match_central_differences(pool, stride, shape, rng):
    report = check_gradients(MaxPool2D(pool, stride), distinct_values(rng, shape), rng=1)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    assert [row.name for row in report.rows] == ["x"]


def test_small_cnn_gradients_match_central_differences(rng):
    model = small_cnn()
    report = check_gradients(model, away_from_zero(rng, (2, 2, 8, 8)), rng=1)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    assert {row.name for row in report.rows} == {"0.W", "0.b", "4.W", "4.b", "x"}


# -- values against independent implementations -------------------------------


@pytest.mark.parametrize("config", CONV_CONFIGS, ids=CONV_IDS)
def test_conv_matches_naive_loops(config, rng):
    layer = build_conv(config)
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    x = rng.standard_normal(config[-1])
    w, b = layer.params["W"], layer.params["b"]
    y = layer.forward(x)
    expected = naive_conv(x, w, b, config[3], config[4])
    assert y.shape == expected.shape == layer.output_shape(x.shape)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    dw, db, dx_expected = naive_conv_backward(x, w, dy, config[3], config[4])
    np.testing.assert_allclose(layer.grads["W"], dw, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], db, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx, dx_expected, rtol=0, atol=1e-12)


def test_conv_known_values():
    # A 2x2 all-ones kernel sums each 2x2 window; with padding 1 the corners see one input each.
    layer = Conv2D(1, 1, 2, padding=1, rng=0)
    layer.params["W"][...] = 1.0
    layer.params["b"][...] = 0.5
    x = np.arange(4.0).reshape(1, 1, 2, 2)  # [[0, 1], [2, 3]]
    expected = np.array([[0, 1, 1], [2, 6, 4], [2, 5, 3]]) + 0.5
    np.testing.assert_array_equal(layer.forward(x)[0, 0], expected)
    # Cross-correlation, not convolution: the kernel is not flipped.
    layer = Conv2D(1, 1, (1, 2), rng=0)
    layer.params["W"][...] = [[[[1.0, 10.0]]]]
    np.testing.assert_array_equal(layer.forward(np.array([[[[1.0, 2.0, 3.0]]]]))[0, 0], [[21.0, 32.0]])


@pytest.mark.parametrize(("pool", "stride", "shape"), POOL_CONFIGS, ids=POOL_IDS)
def test_maxpool_matches_naive_loops(pool, stride, shape, rng):
    x = rng.standard_normal(shape)
    layer = MaxPool2D(pool, stride)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    y_expected, dx_expected = naive_maxpool(x, pool, stride, dy)
    assert y.shape == y_expected.shape == layer.output_shape(x.shape)
    np.testing.assert_array_equal(y, y_expected)
    np.testing.assert_allclose(layer.backward(dy), dx_expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("pool", "stride"), [(2, None), (3, 1), ((2, 3), (1, 2))])
def test_maxpool_ties_have_exactly_one_winner(pool, stride, rng):
    # Coarse integer values: many ties inside every window.
    x = rng.integers(0, 3, size=(2, 2, 6, 7)).astype(np.float64)
    x[0, 0] = 1.0  # a channel where every window is one big tie
    layer = MaxPool2D(pool, stride)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    y_expected, dx_expected = naive_maxpool(x, pool, stride, dy)
    np.testing.assert_array_equal(y, y_expected)
    np.testing.assert_allclose(dx, dx_expected, rtol=0, atol=1e-12)  # first maximum, row-major, wins
    np.testing.assert_allclose(dx.sum(), dy.sum(), rtol=1e-12)  # every dy goes to exactly one input
    ones = MaxPool2D(pool, stride)
    ones.forward(np.ones((1, 1, 6, 7)))
    n_windows = ones.output_shape((1, 1, 6, 7))[2] * ones.output_shape((1, 1, 6, 7))[3]
    assert ones.backward(np.ones(ones.output_shape((1, 1, 6, 7)))).sum() == n_windows


def test_maxpool_with_more_than_256_window_offsets(rng):
    x = distinct_values(rng, (1, 2, 18, 17))
    layer = MaxPool2D(17, 1)  # 289 offsets: the winner index no longer fits in uint8
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    y_expected, dx_expected = naive_maxpool(x, 17, 1, dy)
    np.testing.assert_array_equal(y, y_expected)
    np.testing.assert_allclose(layer.backward(dy), dx_expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("config", CONV_CONFIGS, ids=CONV_IDS)
def test_conv_matches_pytorch(config, rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the comparison with it is skipped")
    layer = build_conv(config)
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    x = rng.standard_normal(config[-1])
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(layer.params["W"], requires_grad=True)
    bt = torch.tensor(layer.params["b"], requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, wt, bt, stride=pair(config[3]), padding=pair(config[4]))
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.grads["W"], wt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.grads["b"], bt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize(("pool", "stride", "shape"), POOL_CONFIGS, ids=POOL_IDS)
def test_maxpool_matches_pytorch(pool, stride, shape, rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the comparison with it is skipped")
    x = distinct_values(rng, shape)
    layer = MaxPool2D(pool, stride)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.max_pool2d(xt, pair(pool), stride=pair(stride if stride is not None else pool))
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)


# -- the layer contract: dtypes, overwriting, input_grad ----------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("name", "build", "shape"),
    [
        ("Conv2D", lambda dt: Conv2D(3, 4, 3, stride=2, padding=1, rng=0, dtype=dt), (2, 3, 7, 7)),
        ("MaxPool2D", lambda dt: MaxPool2D(2), (2, 3, 6, 5)),
        ("MaxPool2D-overlap", lambda dt: MaxPool2D(3, 2), (2, 3, 7, 7)),
        ("CNN", small_cnn, (2, 2, 8, 8)),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_dtype_is_preserved(name, build, shape, dtype, rng):
    layer = build(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    y = layer.forward(x)
    assert y.dtype == dtype
    dx = layer.backward(rng.standard_normal(y.shape).astype(dtype))
    assert dx.dtype == dtype and dx.shape == x.shape
    for key, g in layer.grads.items():
        assert g.dtype == dtype and g.shape == layer.params[key].shape


def test_float32_agrees_with_float64(rng):
    layer64 = Conv2D(3, 4, 3, padding=1, rng=0)
    layer32 = layer64.astype(np.float32)
    x = rng.standard_normal((2, 3, 6, 6))
    y64 = layer64.forward(x)
    y32 = layer32.forward(x.astype(np.float32))
    np.testing.assert_allclose(y32, y64, rtol=0, atol=1e-5 * np.abs(y64).max())
    dy = rng.standard_normal(y64.shape)
    dx64, dx32 = layer64.backward(dy), layer32.backward(dy.astype(np.float32))
    np.testing.assert_allclose(dx32, dx64, rtol=0, atol=1e-5 * np.abs(dx64).max())
    w64 = layer64.grads["W"]
    np.testing.assert_allclose(layer32.grads["W"], w64, rtol=0, atol=1e-5 * np.abs(w64).max())


@pytest.mark.parametrize(
    ("build", "shape"),
    [
        (lambda: Conv2D(3, 4, 3, stride=2, padding=1, rng=0), (2, 3, 7, 7)),
        (lambda: MaxPool2D(3, 2), (2, 3, 7, 7)),
        (small_cnn, (2, 2, 8, 8)),
    ],
    ids=["Conv2D", "MaxPool2D", "CNN"],
)
def test_backward_overwrites_and_keeps_gradient_arrays(build, shape, rng):
    check_backward_contract(build(), rng.standard_normal(shape), rng)


def test_conv_inside_sequential_on_mnist_shaped_rows(rng):
    model = Sequential(
        Conv2D(1, 8, 5, padding=2, rng=0), ReLU(), MaxPool2D(2), Flatten(), Dense(8 * 14 * 14, 10, rng=1)
    )
    assert model.n_params == 8 * 25 + 8 + 8 * 14 * 14 * 10 + 10
    assert list(model.params) == ["0.W", "0.b", "4.W", "4.b"]
    rows = rng.random((3, 784))  # flat MNIST-like rows
    images = rows.reshape(-1, 1, 28, 28)
    assert np.shares_memory(images, rows)  # a view, no copy
    logits = model.forward(images)
    assert logits.shape == (3, 10)
    dy = rng.standard_normal(logits.shape)
    assert model.backward(dy, input_grad=False) is None
    assert model.backward(dy).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match=r"x must have 4 dimensions .* got shape \(3, 784\).*reshape"):
        model.forward(rows)


def test_conv_init_variance():
    # 25,600 draws: the sample variance has relative std sqrt(2/25600) = 0.9%; allow 5%.
    for init, var in [("he", 2 / 400), ("lecun", 1 / 400), ("glorot", 2 / (400 + 1600))]:
        w = Conv2D(16, 64, 5, rng=0, init=init).params["W"]
        assert w.shape == (64, 16, 5, 5)
        assert abs(w.var() / var - 1) < 0.05
    assert not Conv2D(16, 64, 5, rng=0).params["b"].any()


# -- configs ------------------------------------------------------------------


def test_conv_config_round_trip():
    layer = Conv2D(2, 3, (2, 3), stride=(2, 1), padding=1, rng=np.random.default_rng(4), init="glorot")
    config = layer.get_config()
    assert config == {
        "in_channels": 2,
        "out_channels": 3,
        "kernel_size": [2, 3],
        "stride": [2, 1],
        "padding": 1,
        "rng": layer.seed,
        "init": "glorot",
        "dtype": "float64",
    }
    again = Conv2D.from_config(json.loads(json.dumps(config)))
    np.testing.assert_array_equal(again.params["W"], layer.params["W"])
    np.testing.assert_array_equal(again.params["b"], layer.params["b"])
    assert again.get_config() == config
    assert not np.array_equal(Conv2D(2, 3, (2, 3), rng=layer.seed + 1).params["W"], layer.params["W"])
    f32 = Conv2D.from_config({**config, "dtype": "float32"})
    assert f32.params["W"].dtype == np.float32


def test_maxpool_and_model_config_round_trip(rng):
    assert MaxPool2D().get_config() == {"pool_size": 2, "stride": 2}
    assert MaxPool2D((2, 3), 1).get_config() == {"pool_size": [2, 3], "stride": 1}
    assert "Conv2D" in LAYER_REGISTRY and "MaxPool2D" in LAYER_REGISTRY
    model = small_cnn(np.float32)
    spec = json.loads(json.dumps({"class": "Sequential", "config": model.get_config()}))
    again = layer_from_config(spec)
    assert [type(layer) for layer in again.layers] == [Conv2D, ReLU, MaxPool2D, Flatten, Dense]
    x = rng.standard_normal((2, 2, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(again.forward(x), model.forward(x))  # same seeds, same weights
    m64 = model.astype(np.float64)
    assert m64.dtype == np.float64 and m64.params["0.W"].dtype == np.float64


# -- validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kernel_size": 0}, ValueError, r"kernel_size must be a positive int or a pair .* got 0"),
        ({"kernel_size": (3, -1)}, ValueError, r"kernel_size must be a positive int or a pair .* got \(3, -1\)"),
        ({"kernel_size": 2.5}, TypeError, r"kernel_size must be a positive int or a pair .* got 2.5"),
        ({"kernel_size": (1, 2, 3)}, TypeError, r"kernel_size must be .* got \(1, 2, 3\)"),
        ({"stride": 0}, ValueError, r"stride must be a positive int or a pair .* got 0"),
        ({"stride": (1, -2)}, ValueError, r"stride must be a positive int or a pair .* got \(1, -2\)"),
        ({"padding": -1}, ValueError, r"padding must be an int >= 0 or a pair .* got -1"),
        ({"padding": True}, TypeError, r"padding must be an int >= 0 or a pair .* got True"),
        ({"in_channels": 0}, ValueError, r"in_channels must be a positive int, got 0"),
        ({"out_channels": -4}, ValueError, r"out_channels must be a positive int, got -4"),
        ({"init": "xavier"}, ValueError, r"init must be one of .* got 'xavier'"),
        ({"dtype": np.float16}, TypeError, r"dtype must be float32 or float64, got float16"),
        ({"rng": -1}, ValueError, r"rng must lie in \[0, 2\*\*63\), got -1"),
    ],
)
def test_conv_rejects_bad_arguments(kwargs, error, match):
    args = {"in_channels": 1, "out_channels": 2, "kernel_size": 3, "rng": 0, **kwargs}
    with pytest.raises(error, match=match):
        Conv2D(**args)


def test_conv_rejects_bad_inputs():
    layer = Conv2D(1, 2, 5, padding=1, rng=0)
    with pytest.raises(ValueError, match=r"x has 3 channels but the layer expects in_channels=1"):
        layer.forward(np.zeros((2, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"x must have 4 dimensions \(n, channels, height, width\).* \(2, 64\)"):
        layer.forward(np.zeros((2, 64)))
    with pytest.raises(ValueError, match=r"kernel_size \(5, 5\) is larger than the padded input \(4, 5\)"):
        layer.forward(np.zeros((2, 1, 2, 3)))  # padded to 4x5
    with pytest.raises(TypeError, match=r"x has dtype float32 but float64 was expected"):
        layer.forward(np.zeros((2, 1, 8, 8), dtype=np.float32))
    with pytest.raises(TypeError, match=r"x must have dtype float32 or float64, got int64"):
        layer.forward(np.zeros((2, 1, 8, 8), dtype=np.int64))
    with pytest.raises(RuntimeError, match=r"Conv2D.backward was called before forward"):
        layer.backward(np.zeros((2, 2, 6, 6)))
    layer.forward(np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match=r"last output of Conv2D, \(2, 2, 6, 6\), got \(2, 2, 5, 6\)"):
        layer.backward(np.zeros((2, 2, 5, 6)))


def test_maxpool_rejects_misuse():
    with pytest.raises(ValueError, match=r"pool_size must be a positive int or a pair .* got 0"):
        MaxPool2D(0)
    with pytest.raises(ValueError, match=r"stride must be a positive int or a pair .* got \(2, 0\)"):
        MaxPool2D(2, (2, 0))
    with pytest.raises(TypeError, match=r"pool_size must be a positive int or a pair .* got 2.0"):
        MaxPool2D(2.0)
    layer = MaxPool2D(3)
    with pytest.raises(ValueError, match=r"pool_size \(3, 3\) is larger than the input's \(height, width\) \(2, 5\)"):
        layer.forward(np.zeros((1, 1, 2, 5)))
    with pytest.raises(ValueError, match=r"x must have 4 dimensions .* got shape \(1, 6, 6\)"):
        layer.forward(np.zeros((1, 6, 6)))
    with pytest.raises(TypeError, match=r"x must have dtype float32 or float64, got int64"):
        layer.forward(np.zeros((1, 1, 6, 6), dtype=np.int64))
    layer.forward(np.zeros((1, 1, 6, 6), dtype=np.float32))
    with pytest.raises(ValueError, match=r"last output of MaxPool2D, \(1, 1, 2, 2\), got \(1, 1, 3, 3\)"):
        layer.backward(np.zeros((1, 1, 3, 3), dtype=np.float32))
    with pytest.raises(TypeError, match=r"dy has dtype float64 but float32 was expected"):
        layer.backward(np.zeros((1, 1, 2, 2)))
