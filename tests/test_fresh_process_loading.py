"""Every model file loads in a fresh interpreter that imported nothing but ``rpnumpy.io``.

One file per registered layer case, and one per kind of network (a fully bundled network built by
its classmethod, a tied autoencoder, a two-layer MLP), are written here; a new Python process loads
them all and checks that each computes the saved output bit for bit.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from rpnumpy import FullyBundledNetwork, PRPAutoencoder
from rpnumpy.io import save_model
from rpnumpy.models import mnist_mlp
from rpnumpy.testing import LAYER_CASES
from rpnumpy.testing.exchange import case_filename


def _networks(rng):
    return {
        "fully_bundled": (FullyBundledNetwork.build(5, 2, [6, 4], ["relu", "cos"], radius=1.0, relu_bias=True, rng=1),
                          rng.standard_normal((3, 5))),
        "autoencoder": (PRPAutoencoder(8, 3, rng=2), rng.uniform(0, 1, (3, 8))),
        "mlp": (mnist_mlp(3, dtype=np.float64), rng.uniform(0, 1, (2, 784))),
    }


def test_every_case_and_network_loads_in_a_fresh_process(tmp_path):
    rng = np.random.default_rng(0)
    models = {case_filename(case.name)[:-4]: case.sample(0)[:2] for case in LAYER_CASES}
    models.update(_networks(rng))
    for name, (model, x) in models.items():
        save_model(model, tmp_path / f"{name}.npz")
        np.savez(tmp_path / f"{name}.expected.npz", x=x, y=model.forward(x))
    script = textwrap.dedent(f"""
        import pathlib, sys
        import numpy as np
        from rpnumpy.io import load_model
        assert not any(m.startswith("rpnumpy.testing") for m in sys.modules)
        failures = []
        for path in sorted(pathlib.Path({str(tmp_path)!r}).glob("*.expected.npz")):
            name = path.name[: -len(".expected.npz")]
            expected = np.load(path)
            model = load_model(path.with_name(name + ".npz"))
            if not np.array_equal(model.forward(expected["x"]), expected["y"]):
                failures.append(name)
        print(len(failures), failures)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 []"
    assert len(models) == len(LAYER_CASES) + 3
