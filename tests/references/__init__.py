"""Independent reference implementations of rpnumpy's layers (HIPS autograd and PyTorch).

They are written from the papers' formulas, take plain arrays (the input, the parameters and the
fixed matrices read from an rpnumpy layer's buffers) and a layer spec (``{"class", "config"}``, the
JSON of :func:`rpnumpy.io.save_model`), and never import rpnumpy: the tests assert that importing
them loads no ``rpnumpy`` module.
"""
