"""Generation and likelihoods: what variational, adversarial and denoising models add.

``sample`` has one signature for three kinds of model:

- variational (:class:`~codings.Variational`) and adversarial (:class:`~codings.Adversarial`)
  models decode draws from the prior over their codings;
- denoising models (:class:`~codings.Denoising`, no prior) run the Markov chain of generative
  stochastic networks (Bengio, Yao, Alain & Vincent, "Generalized denoising auto-encoders as
  generative models", arXiv:1305.6663, 2013; Bengio, Thibodeau-Laufer, Alain & Yosinski,
  "Deep generative stochastic networks trainable by backprop", arXiv:1306.1091, 2014):
  ``x_tilde_t ~ C(x_tilde | x_t)`` (the trained corruption), ``mean_t = decode(encode(x_tilde_t))``
  and ``x_{t+1} ~ P(x | x_tilde_t)``, whose stationary distribution estimates the data's.

The ELBO of a variational model is computed on a fixed quasi-Monte Carlo point set (see
:func:`normal_points`), so scores are deterministic, independent of batching and accurate.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from codings.constraints.adversarial import Adversarial
from codings.constraints.denoising import Denoising
from codings.constraints.variational import Variational, gaussian_kl
from codings.estimators._fitting import seed_from
from codings.estimators.validation import check_number
from codings.exceptions import InvalidInputError
from codings.nn.module import AutoEncoderModule
from codings.training.losses import reconstruction_error

_ELBO_SEED = 20140101  # any fixed seed: the points only need to be the same on every call
_GSN_STEPS = 100


def log_likelihood_of(x_hat: torch.Tensor, x: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-sample ``log p(x | z)`` in nats, consistent with the training loss.

    BCE: a Bernoulli likelihood. MSE: the Gaussian ``N(x_hat, 1/2)`` whose negative log
    density is the summed squared error plus ``d/2 * log(pi)``.
    """
    nll = reconstruction_error(x_hat, x, loss, "sum")
    if loss == "mse":
        nll = nll + 0.5 * x[0].numel() * math.log(math.pi)
    return -nll


def normal_points(n_points: int, dim: int) -> torch.Tensor:
    """A fixed set of ``2m`` points in R^dim standing in for draws of N(0, I), float64.

    ``m = max(ceil(n_points / 2), dim + 1)`` points of a scrambled Sobol sequence are mapped
    through the normal quantile function, then paired with their negatives (so the mean and
    every odd moment are exactly 0) and whitened by the Cholesky factor of their second-moment
    matrix (so it is exactly I). Averages over the set are therefore exact for every
    polynomial of degree <= 3, which is why a few dozen points estimate ``E_q[log p(x|z)]``
    to a small fraction of a nat where independent draws need thousands.
    """
    m = max(math.ceil(n_points / 2), dim + 1)
    engine = torch.quasirandom.SobolEngine(dim, scramble=True, seed=_ELBO_SEED)
    u = engine.draw(m, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    half = torch.special.ndtri(u)
    points = torch.cat([half, -half])
    second_moment = points.T @ points / len(points)
    cholesky = torch.linalg.cholesky(second_moment)
    return torch.linalg.solve_triangular(cholesky, points.T, upper=False).T


def _draw_like(mean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Bernoulli(mean) drawn from a CPU generator, on ``mean``'s device."""
    u = torch.rand(mean.shape, generator=generator, dtype=mean.dtype)
    return (u.to(mean.device) < mean).to(mean.dtype)


class GenerativeMixin:
    """``sample``, ``interpolate``, ``log_likelihood`` and the ELBO score of a VAE."""

    module_: AutoEncoderModule
    n_components: int
    loss: str
    n_features_in_: int

    if TYPE_CHECKING:  # provided by AutoEncoder
        def inverse_transform(self, X: Any) -> np.ndarray: ...
        def _check_X(self, X: Any, *, reset: bool) -> np.ndarray: ...
        def _map_batches(self, X: np.ndarray, function: Any, *,
                         draws_random: bool = False) -> np.ndarray: ...
        def _decode_output(self, x_hat: torch.Tensor) -> torch.Tensor: ...
        def _as_input_shape(self, X_flat: np.ndarray) -> np.ndarray: ...

    def _constraint(self, kind: type) -> Any:
        found = [c for c in self.module_.constraints if isinstance(c, kind)]
        return found[0] if found else None

    def _variational(self) -> Variational | None:
        return self._constraint(Variational)

    def _require_variational(self, method: str) -> None:
        check_is_fitted(self)
        if self._variational() is None:
            raise InvalidInputError(
                f"{method} needs a model with a prior over its codings: add the Variational "
                "constraint, e.g. AutoEncoder(constraints=(Variational(),)).")

    # -- generation --------------------------------------------------------------------------
    def sample(self, n_samples: int = 1, *, random_state: Any = None,
               n_steps: int | None = None, X_start: Any = None,
               return_chain: bool = False) -> np.ndarray:
        """Generate ``n_samples`` new rows like the training data.

        A variational or adversarial model decodes draws from the prior over its codings
        (N(0, I), or the :class:`~codings.Adversarial` constraint's prior). A denoising model
        without a prior runs the generative-stochastic-network chain (Bengio et al., 2013):
        ``n_steps`` times, corrupt ``x`` with the trained :class:`~codings.Denoising` noise,
        reconstruct it, and draw the next ``x`` from the reconstruction: Bernoulli draws from
        the probabilities with ``loss="bce"``, the reconstruction itself with ``loss="mse"``
        (whose Gaussian has no learned variance, so the corruption is the chain's only noise).

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState, Generator or None
            Seeds the prior draws, or the chain's start, corruption and Bernoulli draws.
        n_steps : int, default=100
            Denoising chain only: the number of corrupt-reconstruct-sample steps.
        X_start : array-like of shape (n_samples, n_features), optional
            Denoising chain only: where the chains start; by default uniform noise over the
            training data's per-feature range (``data_min_`` to ``data_max_``; [0, 1] for a
            ``loss="bce"`` model that does not record it).
        return_chain : bool, default=False
            Denoising chain only: return every step, the start included.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_), float32
            The decoder's mean at the last step (probabilities with ``loss="bce"``); images
            keep the training images' shape. With ``return_chain``, shape
            ``(n_steps + 1, n_samples, ...)``: the start, then the mean after each step.
        """
        check_is_fitted(self)
        check_number(type(self).__name__, "n_samples", n_samples, integer=True, low=1)
        generator = torch.Generator().manual_seed(seed_from(random_state, type(self).__name__))
        prior = self._variational() or self._constraint(Adversarial)
        if prior is not None:
            if n_steps is not None or X_start is not None or return_chain:
                raise InvalidInputError(
                    "n_steps, X_start and return_chain apply to the denoising chain; this "
                    f"model samples by decoding draws from its {type(prior).__name__} prior.")
            if isinstance(prior, Adversarial):
                z = prior.sample_prior(n_samples, self.n_components, generator)
            else:
                z = torch.randn(n_samples, self.n_components, generator=generator)
            return self.inverse_transform(z.numpy())
        if self._constraint(Denoising) is None:
            raise InvalidInputError(
                "sample needs a generative model: add the Variational or Adversarial "
                "constraint (decoded prior draws) or Denoising (the generative stochastic "
                "network chain), e.g. AutoEncoder(constraints=(Variational(),)).")
        steps = _GSN_STEPS if n_steps is None else n_steps
        check_number(type(self).__name__, "n_steps", steps, integer=True, low=1)
        start = self._chain_start(n_samples, X_start, generator)
        return self._run_chain(start, steps, generator, bool(return_chain))

    def _data_range(self) -> tuple[np.ndarray, np.ndarray]:
        low, high = getattr(self, "data_min_", None), getattr(self, "data_max_", None)
        if low is not None and high is not None:
            return np.asarray(low, np.float32), np.asarray(high, np.float32)
        if self.loss == "bce":
            return np.zeros(1, np.float32), np.ones(1, np.float32)
        raise InvalidInputError(
            "This model does not record its training data's range (data_min_, data_max_), "
            "so the chain has no uniform noise to start from: pass X_start, e.g. "
            "sample(len(X0), X_start=X0).")

    def _chain_start(self, n_samples: int, X_start: Any,
                     generator: torch.Generator) -> np.ndarray:
        if X_start is not None:
            start = self._check_X(X_start, reset=False)
            start = np.asarray(start, dtype=np.float32).reshape(len(start), -1)
            if len(start) != n_samples:
                raise InvalidInputError(
                    f"X_start has {len(start)} rows but n_samples={n_samples}: one chain "
                    "starts from each row, so pass n_samples=len(X_start).")
            return start
        low, high = self._data_range()
        u = torch.rand(n_samples, self.n_features_in_, generator=generator).numpy()
        return (low + (high - low) * u).astype(np.float32)

    def _run_chain(self, start: np.ndarray, n_steps: int, generator: torch.Generator,
                   return_chain: bool) -> np.ndarray:
        corruptions = self.module_.constraints
        bernoulli = self.loss == "bce"

        def chain(module: AutoEncoderModule, x: torch.Tensor) -> torch.Tensor:
            means = [x]
            for _ in range(n_steps):
                x_tilde = x
                for constraint in corruptions:  # the training-mode corruption, in order
                    x_tilde = constraint.corrupt(x_tilde, generator)
                mean = self._decode_output(module.decode(module.encode(x_tilde).z))
                x = _draw_like(mean, generator) if bernoulli else mean
                means.append(mean)
            return torch.stack(means, dim=1) if return_chain else means[-1]

        result = self._map_batches(start, chain, draws_random=True)
        if not return_chain:
            return self._as_input_shape(result)
        steps = [self._as_input_shape(result[:, t]) for t in range(n_steps + 1)]
        return np.stack(steps)

    def interpolate(self, a: Any, b: Any, steps: int = 8) -> np.ndarray:
        """Decode ``steps`` codings evenly spaced on the segment from ``a`` to ``b``.

        ``a`` and ``b`` are codings of shape (n_components,) (for example rows of
        ``transform(X)``); works for any model: variational, adversarial, denoising or plain.

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

    # -- likelihoods of a variational model ------------------------------------------------
    def _elbo_module(self, n_samples: int) -> Any:
        """Per-sample ELBO over the fixed point set of :func:`normal_points`."""
        points = normal_points(n_samples, self.n_components)

        def elbo(module: AutoEncoderModule, x: torch.Tensor) -> torch.Tensor:
            out = module.encode(x)
            assert out.mu is not None and out.log_var is not None
            std = torch.exp(0.5 * out.log_var)
            total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
            for eps in points.to(dtype=x.dtype, device=x.device):
                total += log_likelihood_of(module.decode(out.mu + std * eps), x, self.loss)
            return total / len(points) - gaussian_kl(out.mu, out.log_var)

        return elbo

    def elbo(self, X: Any, n_samples: int = 64) -> np.ndarray:
        """Per-sample evidence lower bound in nats per sample, ``E_q[log p(x|z)] - KL(q || p)``.

        ``log p(x|z)`` is the likelihood the training loss assumes (Bernoulli for BCE, the
        Gaussian ``N(x_hat, 1/2)`` per feature for MSE) and ``KL`` is exact. The expectation
        over ``q(z|x) = N(mu, diag(exp(log_var)))`` is a quasi-Monte Carlo average over a fixed
        set of about ``n_samples`` standard-normal points, the same for every row (see
        :func:`normal_points`: exact mean and covariance, antithetic pairs), so the score is
        deterministic, does not depend on batching, and is within a few hundredths of a nat
        of the exact expectation on typical models.

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
        X = self._check_X(X, reset=False)
        generator = torch.Generator().manual_seed(seed_from(random_state, type(self).__name__))

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

        return self._map_batches(X, estimate, draws_random=True)
