"""Generation and likelihoods: what a variational model adds to the estimator."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from codings.constraints.variational import Variational, gaussian_kl
from codings.estimators.validation import check_number
from codings.exceptions import InvalidInputError
from codings.nn.module import AutoEncoderModule
from codings.training.losses import reconstruction_error

_ELBO_SEED = 20140101  # any fixed seed: the draws only need to be the same on every call


def log_likelihood_of(x_hat: torch.Tensor, x: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-sample ``log p(x | z)`` in nats, consistent with the training loss.

    BCE: a Bernoulli likelihood. MSE: the Gaussian ``N(x_hat, 1/2)`` whose negative log
    density is the summed squared error plus ``d/2 * log(pi)``.
    """
    nll = reconstruction_error(x_hat, x, loss, "sum")
    if loss == "mse":
        nll = nll + 0.5 * x[0].numel() * math.log(math.pi)
    return -nll


class GenerativeMixin:
    """``sample``, ``interpolate``, ``log_likelihood`` and the ELBO score of a VAE."""

    module_: AutoEncoderModule
    n_components: int
    loss: str

    if TYPE_CHECKING:  # provided by AutoEncoder
        def inverse_transform(self, X: Any) -> np.ndarray: ...
        def _check_X(self, X: Any, *, reset: bool) -> np.ndarray: ...
        def _map_batches(self, X: np.ndarray, function: Any) -> np.ndarray: ...

    def _variational(self) -> Variational | None:
        found = [c for c in self.module_.constraints if isinstance(c, Variational)]
        return found[0] if found else None

    def _require_variational(self, method: str) -> None:
        check_is_fitted(self)
        if self._variational() is None:
            raise InvalidInputError(
                f"{method} needs a model with a prior over its codings: add the Variational "
                "constraint, e.g. AutoEncoder(constraints=(Variational(),)).")

    def sample(self, n_samples: int = 1, *, random_state: Any = None) -> np.ndarray:
        """Decode ``n_samples`` draws from the prior N(0, I): new data like the training data.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_), float32
        """
        self._require_variational("sample")
        check_number(type(self).__name__, "n_samples", n_samples, integer=True, low=1)
        from codings.estimators.autoencoder import seed_from

        generator = torch.Generator().manual_seed(seed_from(random_state))
        z = torch.randn(n_samples, self.n_components, generator=generator)
        return self.inverse_transform(z.numpy())

    def interpolate(self, a: Any, b: Any, steps: int = 8) -> np.ndarray:
        """Decode ``steps`` codings evenly spaced on the segment from ``a`` to ``b``.

        ``a`` and ``b`` are codings of shape (n_components,) (for example rows of
        ``transform(X)``); works for any model, generative or not.

        Returns
        -------
        X_path : ndarray of shape (steps, n_features_in_)
        """
        check_is_fitted(self)
        check_number(type(self).__name__, "steps", steps, integer=True, low=2)
        a, b = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (a, b))
        for name, v in (("a", a), ("b", b)):
            if v.shape != (self.n_components,):
                raise InvalidInputError(f"interpolate expects {name} to be a coding of "
                                        f"{self.n_components} values, got shape {v.shape}.")
        weights = np.linspace(0.0, 1.0, steps)[:, None]
        return self.inverse_transform((1 - weights) * a + weights * b)

    def _elbo_module(self, n_samples: int) -> Any:
        """Per-sample ELBO from ``n_samples`` fixed antithetic draws (same for every row).

        Fixed draws make the score deterministic and independent of batching while staying
        an unbiased estimate of each row's ELBO; antithetic pairs (eps, -eps) cut variance.
        """
        half = torch.randn(max(n_samples // 2, 1), self.n_components,
                           generator=torch.Generator().manual_seed(_ELBO_SEED))
        eps_all = torch.cat([half, -half])

        def elbo(module: AutoEncoderModule, x: torch.Tensor) -> torch.Tensor:
            out = module.encode(x)
            assert out.mu is not None and out.log_var is not None
            std = torch.exp(0.5 * out.log_var)
            eps = eps_all.to(dtype=x.dtype, device=x.device)
            log_px_z = torch.stack([log_likelihood_of(module.decode(out.mu + std * e), x,
                                                      self.loss) for e in eps]).mean(dim=0)
            return log_px_z - gaussian_kl(out.mu, out.log_var)

        return elbo

    def elbo(self, X: Any, n_samples: int = 16) -> np.ndarray:
        """Per-sample evidence lower bound in nats, ``E_q[log p(x|z)] - KL(q || p)``.

        Deterministic: the expectation uses ``n_samples`` fixed antithetic draws.

        Returns
        -------
        elbo : ndarray of shape (n_samples_X,)
        """
        self._require_variational("elbo")
        check_number(type(self).__name__, "n_samples", n_samples, integer=True, low=2)
        X = self._check_X(X, reset=False)
        return self._map_batches(X, self._elbo_module(n_samples))

    def log_likelihood(self, X: Any, n_samples: int = 100, *,
                       random_state: Any = None) -> np.ndarray:
        """Importance-weighted estimate of ``log p(x)`` in nats (Burda et al., ICLR 2016).

        ``log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x)`` with ``z_k ~ q(z | x)``; it is a
        lower bound that tightens as ``n_samples`` (K) grows, and equals a one-sample
        ELBO estimate for K = 1.

        Returns
        -------
        log_px : ndarray of shape (n_samples_X,)
        """
        self._require_variational("log_likelihood")
        check_number(type(self).__name__, "n_samples", n_samples, integer=True, low=1)
        from codings.estimators.autoencoder import seed_from

        X = self._check_X(X, reset=False)
        generator = torch.Generator().manual_seed(seed_from(random_state))

        def estimate(module: AutoEncoderModule, x: torch.Tensor) -> torch.Tensor:
            out = module.encode(x)
            assert out.mu is not None and out.log_var is not None
            std = torch.exp(0.5 * out.log_var)
            terms = []
            for _ in range(n_samples):
                eps = torch.randn(out.mu.shape, generator=generator, dtype=x.dtype)
                z = out.mu + std * eps.to(x.device)
                log_pz = -0.5 * (z.square() + math.log(2 * math.pi)).sum(dim=1)
                log_qz = -0.5 * (eps.square() + math.log(2 * math.pi)).sum(dim=1) \
                    - 0.5 * out.log_var.sum(dim=1)
                log_px_z = log_likelihood_of(module.decode(z), x, self.loss)
                terms.append(log_px_z + log_pz - log_qz)
            return torch.logsumexp(torch.stack(terms), dim=0) - math.log(n_samples)

        return self._map_batches(X, estimate)
