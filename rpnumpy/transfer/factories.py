"""The factories that build a student's layers: ``factory(d_in, d_out, dtype) -> layer``."""

from __future__ import annotations

from typing import Any

from .._deprecation import moved_attribute, renamed_keywords
from .._validation import (
    as_generator,
    check_positive_int,
    check_real,
    seed_from,
)
from ..features import FEATURE_DRAWS, FEATURE_MAPS
from ..layers import LowRank
from ..layers.eugen import EUGEN_DRAWS, EUGen
from ..layers.snnk import SNNK

__all__ = ["EUGenFactory", "LowRankFactory", "SNNKFactory"]


class EUGenFactory:
    """Builds the EUGen layers of a student: ``factory(d_in, d_out, dtype) -> EUGen``.

    Each call draws a fresh layer seed from ``rng``, so an int ``rng`` makes the whole student
    reproducible and two factories with the same int draw the same :math:`G_{ij}`.

    Parameters
    ----------
    m : int
        Features per order.
    order : int, default=2
        :math:`k`; the layer has :math:`M = 1 + mk` features.
    norm_term : bool, default=True
    draws : {'iid', 'rademacher', 'orthogonal'}, default='iid'
    rng : None, int or Generator
    """

    def __init__(self, m: int, order: int = 2, *, norm_term: bool = True, draws: str = "iid", rng: Any = None) -> None:
        self.m = check_positive_int(m, "m")
        self.order = check_positive_int(order, "order")
        if not isinstance(norm_term, bool):
            raise TypeError(f"norm_term must be a bool, got {norm_term!r}")
        if draws not in EUGEN_DRAWS:
            raise ValueError(f"draws must be one of {list(EUGEN_DRAWS)}, got {draws!r}")
        self.norm_term, self.draws = norm_term, draws
        self._rng = as_generator(rng)

    def __call__(self, d_in: int, d_out: int, dtype: Any) -> EUGen:
        return EUGen(d_in, d_out, self.m, self.order, norm_term=self.norm_term, draws=self.draws,
                     rng=seed_from(self._rng), dtype=dtype)

    def __repr__(self) -> str:
        return f"EUGen(m={self.m}, k={self.order}, norm_term={self.norm_term}, draws={self.draws!r})"


class SNNKFactory:
    r"""Builds SNNK layers (``activation`` tower, :math:`D` features) for a student; see :class:`EUGenFactory`.

    Parameters
    ----------
    n_directions : int
        :math:`m`, the random directions of each layer's tower (``D = m`` for the relu tower).
    activation : str, default='relu'
    draws : {'iid', 'orthogonal'}, default='iid'
    kappa : float, default=0.0
        Floor of the ReLU tower, :math:`\max(xG, \kappa)` (the SNNK authors' code uses -5); only
        ``activation='relu'`` takes a non-zero value.
    rng : None, int or Generator
    m
        Deprecated spelling of ``n_directions``.
    """

    def __init__(
        self,
        n_directions: int | None = None,
        *,
        activation: str = "relu",
        draws: str = "iid",
        kappa: float = 0.0,
        rng: Any = None,
        **renamed: Any,
    ) -> None:
        n_directions = renamed_keywords("rpnumpy.transfer.SNNKFactory", renamed,
                                        {"m": ("n_directions", n_directions, None)})["n_directions"]
        if n_directions is None:
            raise TypeError("SNNKFactory needs n_directions, the number of random directions of each tower")
        self.n_directions = check_positive_int(n_directions, "n_directions")
        if activation not in FEATURE_MAPS:
            raise ValueError(f"activation must be one of {list(FEATURE_MAPS)}, got {activation!r}")
        if draws not in FEATURE_DRAWS:
            raise ValueError(f"draws must be one of {list(FEATURE_DRAWS)}, got {draws!r}")
        self.kappa = check_real(kappa, "kappa")
        if self.kappa != 0.0 and activation != "relu":
            raise ValueError(f"kappa only applies to activation='relu'; {activation} needs kappa=0, got {kappa!r}")
        self.activation, self.draws = activation, draws
        self._rng = as_generator(rng)

    def __call__(self, d_in: int, d_out: int, dtype: Any) -> SNNK:
        return SNNK(d_in, d_out, self.n_directions, activation=self.activation, draws=self.draws, kappa=self.kappa,
                    rng=seed_from(self._rng), dtype=dtype)

    m = moved_attribute("rpnumpy.transfer.SNNKFactory", "m", "n_directions")

    def __repr__(self) -> str:
        kappa = f", kappa={self.kappa:g}" if self.kappa != 0.0 else ""
        return f"SNNK(n_directions={self.n_directions}, activation={self.activation!r}{kappa})"


class LowRankFactory:
    """Builds :class:`~rpnumpy.layers.LowRank` layers of rank ``rank`` (a linear layer: no activation)."""

    def __init__(self, rank: int) -> None:
        self.rank = check_positive_int(rank, "rank")

    def __call__(self, d_in: int, d_out: int, dtype: Any) -> LowRank:
        return LowRank(d_in, d_out, self.rank, rng=0, dtype=dtype)

    def __repr__(self) -> str:
        return f"LowRank(rank={self.rank})"


