"""lme4's profiled criterion for random-intercept models, its exact derivatives, and the fit that minimises it.

The model is ``y = X b + sum_k Z_k u_k + e`` with ``u_k ~ N(0, sigma^2 theta_k^2 I)`` and
``e ~ N(0, sigma^2 I)``: every random term an intercept per level of a factor (crossed or nested), as in
``lmer(y ~ x + (1 | participant) + (1 | stimulus) + (1 | layer))``. lme4 (Bates, Maechler, Bolker and
Walker 2015, J. Stat. Softw. 67(1), "Fitting Linear Mixed-Effects Models Using lme4", eqs. 34 and 41)
profiles out ``b`` and ``sigma`` and minimises over the relative standard deviations ``theta >= 0``::

    ML:    d(theta)   = log|L|^2 + n (1 + log(2 pi r^2 / n))
    REML:  d_R(theta) = log|L|^2 + log|R_X|^2 + (n - p) (1 + log(2 pi r^2 / (n - p)))

with ``L L' = Lambda' Z'Z Lambda + I`` (``Lambda = diag(theta_k)`` per level), ``R_X' R_X = X' V^-1 X``
(``V = I + Z Lambda Lambda' Z'``, Sylvester: ``|L|^2 = |V|``) and ``r^2`` the penalised residual sum of
squares, ``(y - X b)' V^-1 (y - X b)`` at the GLS ``b``. Every term comes from the cross-products
``X'X, X'Z, Z'Z, X'y, Z'y, y'y`` (Woodbury with ``Lambda``, so ``theta = 0`` is an ordinary point):
a fit's cost does not grow with the number of ratings.

The fit (:func:`fit`) is a projected Newton method (Bertsekas 1982, SIAM J. Control Optim. 20(2)) in
``gamma = theta^2`` with the exact gradient and Hessian of the profiled criterion, bounded at 0, from three
starts; it stops when the projected gradient (KKT) and the predicted decrease of the criterion vanish.
:func:`satterthwaite` gives lmerTest's Satterthwaite degrees of freedom (Kuznetsova, Brockhoff and
Christensen 2017, J. Stat. Softw. 82(13), sec. 3; lmerTest 3.1's ``as_lmerModLT`` and ``contest1D``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, sparse

SINGULAR_TOL = 1e-4
"""lme4's ``isSingular(x, tol = 1e-4)``: a fit is singular when a relative sd theta is below this."""
LMERTEST_EIG_TOL = 1e-8
"""lmerTest's ``as_lmerModLT(tol = 1e-08)``: Hessian eigenvalues at or below it are left out of vcov(varpar)."""


@dataclass
class Problem:
    """The cross-products of one model: y (n), X (n x p), random-intercept factors (integer codes).

    Used in: notebooks 03 (p1-mixed-model.csv) and 08 (study/mixed-model.csv) through
        :func:`helpers.study.mixed.mixed_model`; tests/test_mixed.py, benchmarks/mixed.py.
    """

    n: int
    p: int
    names: list[str]
    sizes: list[int]
    ZtZ: np.ndarray
    ZtXy: np.ndarray  # Z'[X y]
    XytXy: np.ndarray  # [X y]'[X y]
    reml: bool = True
    blocks: list[slice] = field(init=False)
    which: np.ndarray = field(init=False)

    def __post_init__(self):
        edges = np.cumsum([0, *self.sizes])
        self.blocks = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        self.which = np.repeat(np.arange(len(self.sizes)), self.sizes)
        # the largest factor S is eliminated in closed form (its own block of Z'Z is diagonal); R: the other levels
        self.big = int(np.argmax(self.sizes))
        q = sum(self.sizes)
        self.iS = self.blocks[self.big]
        self.iR = np.setdiff1d(np.arange(q), np.arange(q)[self.iS])
        self.local = {}  # factor -> its slice within R
        at = 0
        for k, size in enumerate(self.sizes):
            if k != self.big:
                self.local[k] = slice(at, at + size)
                at += size
        self.nS = np.diag(self.ZtZ)[self.iS].copy()
        self.C = self.ZtZ[self.iS][:, self.iR]
        self.E = self.ZtZ[np.ix_(self.iR, self.iR)]
        self.ZtXy_S = self.ZtXy[self.iS]
        self.ZtXy_R = self.ZtXy[self.iR]

    @classmethod
    def from_data(cls, y, X, codes: dict, *, reml: bool = True) -> "Problem":
        """Cross-products of ``y``, ``X`` and the indicator matrices of ``codes`` ({name: integer codes 0..m-1}).

        Used in: notebooks 03 and 08 through :func:`helpers.study.mixed.mixed_model`; tests/test_mixed.py.
        """
        y = np.asarray(y, float)
        X = np.asarray(X, float)
        n, p = X.shape
        mats = []
        for name, c in codes.items():
            c = np.asarray(c)
            m = int(c.max()) + 1 if len(c) else 0
            mats.append(sparse.csr_matrix((np.ones(n), (np.arange(n), c)), shape=(n, m)))
        Z = sparse.hstack(mats).tocsc()
        Xy = np.column_stack([X, y])
        return cls(n=n, p=p, names=list(codes), sizes=[z.shape[1] for z in mats], ZtZ=(Z.T @ Z).toarray(),
                   ZtXy=np.asarray(Z.T @ Xy), XytXy=Xy.T @ Xy, reml=reml)

    @property
    def dof(self) -> int:
        return self.n - self.p if self.reml else self.n


def evaluate(prob: Problem, gamma, order: int = 0) -> dict:
    """The profiled criterion at ``gamma = theta^2`` (order 0), with its gradient (1) and Hessian in gamma (2).

    Returns a dict: criterion, beta, r2 (penalised RSS), F (X'V^-1X), and with order >= 1: grad,
    ZVX (Z'V^-1X), Zqy (Z'V^-1(y - X beta)); order 2: hess, logdet_hess (the Hessian of the log-determinant
    terms alone), r2_grad, r2_hess (those of r^2). Raises ``np.linalg.LinAlgError`` where X'V^-1X is singular.

    Derivatives, with ``V_k = Z_k Z_k'``, ``Q = V^-1 - V^-1 X (X'V^-1X)^-1 X'V^-1`` and ``M = Q`` (REML) or
    ``V^-1`` (ML): d log-det / d gamma_k = tr(M V_k), d r^2 / d gamma_k = -y'Q V_k Q y; second derivatives
    -tr(M V_k M V_l) and 2 y'Q V_k Q V_l Q y. The traces are sums over blocks of ``W = Z'MZ``
    (``tr(M V_k M V_l) = ||W_kl||_F^2``).

    The largest factor S (the stimuli) is eliminated in closed form: ``V_S = I + gamma_S Z_S Z_S'`` has the
    inverse ``I - Z_S diag(gamma_S / (1 + gamma_S n_s)) Z_S'``, and Woodbury on the remaining levels R needs
    only the Cholesky factor of the r x r matrix ``I + Lambda_R Z_R' V_S^-1 Z_R Lambda_R``. The m x m block
    ``W_SS`` enters only through ``||diag(d) - K'K||_F^2 = sum d^2 - 2 sum d_i ||K_i||^2 + ||K K'||_F^2``
    (K has r + p rows), so an evaluation costs O(m r^2) instead of O((m + r)^3): at the study's 720
    stimuli, 150 participants and 144 layers about a tenth.

    Used in: notebooks 03 and 08 through :func:`helpers.study.mixed.mixed_model`; tests/test_mixed.py.
    """
    gamma = np.asarray(gamma, float)
    p, N = prob.p, prob.dof
    gS = gamma[prob.big]
    nS, C = prob.nS, prob.C
    u = 1.0 / (1.0 + gS * nS)  # V_S^-1 on the stimulus blocks
    w = gS * u
    lamR = np.sqrt(np.maximum(gamma, 0.0))[prob.which[prob.iR]]
    r = len(lamR)
    Rmat = prob.E - C.T @ (w[:, None] * C)  # Z_R' V_S^-1 Z_R
    RXy = prob.ZtXy_R - C.T @ (w[:, None] * prob.ZtXy_S)  # Z_R' V_S^-1 [X y]
    AR = Rmat * np.outer(lamR, lamR)
    AR[np.diag_indices_from(AR)] += 1.0
    LR = linalg.cholesky(AR, lower=True, check_finite=False) if r else np.zeros((0, 0))
    tri = lambda B: linalg.solve_triangular(LR, B, lower=True, check_finite=False) if r else np.zeros((0, B.shape[1]))  # noqa: E731
    logdet_v = np.log1p(gS * nS).sum() + 2.0 * np.log(np.diag(LR)).sum()
    Gxy = tri(lamR[:, None] * RXy)
    XyVXy = prob.XytXy - prob.ZtXy_S.T @ (w[:, None] * prob.ZtXy_S) - Gxy.T @ Gxy
    out = _profiled(prob, XyVXy, logdet_v)
    beta, r2, Lf = out["beta"], out["r2"], out["Lf"]
    if order == 0:
        return out
    K, big, iS, iR = len(prob.sizes), prob.big, prob.iS, prob.iR
    HS = tri(lamR[:, None] * (C.T * u[None, :]))  # L_R^-1 Lambda_R Z_R' V_S^-1 Z_S   (r x m)
    HR = tri(lamR[:, None] * Rmat)  # L_R^-1 Lambda_R Z_R' V_S^-1 Z_R   (r x r)
    ZVXy = np.empty_like(prob.ZtXy)  # Z' V^-1 [X y] = Z' V_S^-1 [X y] - H' G
    ZVXy[iS] = u[:, None] * prob.ZtXy_S - HS.T @ Gxy
    ZVXy[iR] = RXy - HR.T @ Gxy
    ZVX = ZVXy[:, :p]
    Zqy = ZVXy[:, p] - ZVX @ beta  # Z'Q y = Z'V^-1 (y - X beta)
    T = linalg.solve_triangular(Lf, ZVX.T, lower=True, check_finite=False)  # F^-1 = Lf^-T Lf^-1
    TS, TR = T[:, iS], T[:, iR]
    r2_grad = np.array([-(Zqy[b] ** 2).sum() for b in prob.blocks])
    dS = nS * u  # diag of Z_S' V_S^-1 Z_S
    diag_w = np.empty(len(prob.which))
    diag_w[iS] = dS - (HS ** 2).sum(axis=0)
    diag_w[iR] = np.diag(Rmat) - (HR ** 2).sum(axis=0)
    if prob.reml:
        diag_w -= (T ** 2).sum(axis=0)
    tr = np.array([diag_w[b].sum() for b in prob.blocks])
    out.update(grad=tr + N * r2_grad / r2, ZVX=ZVX, Zqy=Zqy, r2_grad=r2_grad)
    if order == 1:
        return out

    def parts(KS, KR):
        """W = Z'MZ with M = V^-1 - [H; T]' [H; T]-type terms: ||W_SS||^2 (expanded), W_SR, W_RR and W_SS as a map."""
        colsq = (KS ** 2).sum(axis=0)
        ss_norm = (dS ** 2).sum() - 2.0 * (dS * colsq).sum() + (np.square(KS @ KS.T)).sum()
        WSR = u[:, None] * C - KS.T @ KR
        WRR = Rmat - KR.T @ KR
        ss_form = lambda a, b: (dS * a) @ b - (KS @ a) @ (KS @ b)  # noqa: E731  a' W_SS b
        return ss_norm, WSR, WRR, ss_form

    KQ = parts(np.vstack([HS, TS]), np.vstack([HR, TR]))  # Z'QZ
    KM = KQ if prob.reml else parts(HS, HR)  # Z'V^-1Z for ML's log-determinant
    zS = Zqy[iS]
    zR = Zqy[iR]
    logdet_hess = np.empty((K, K))
    r2_hess = np.empty((K, K))
    for k in range(K):
        for l in range(k + 1):
            if k == big and l == big:
                ld, rh = KM[0], KQ[3](zS, zS)
            elif big in (k, l):
                o = prob.local[l if k == big else k]
                ld = (KM[1][:, o] ** 2).sum()
                rh = zS @ KQ[1][:, o] @ zR[o]
            else:
                ok, ol = prob.local[k], prob.local[l]
                ld = (KM[2][ok, ol] ** 2).sum()
                rh = zR[ok] @ KQ[2][ok, ol] @ zR[ol]
            logdet_hess[k, l] = logdet_hess[l, k] = -ld
            r2_hess[k, l] = r2_hess[l, k] = 2.0 * rh
    hess = logdet_hess + N * (r2_hess / r2 - np.outer(r2_grad, r2_grad) / r2 ** 2)
    out.update(hess=hess, logdet_hess=logdet_hess, r2_hess=r2_hess)
    return out


def _profiled(prob: Problem, XyVXy, logdet_v: float) -> dict:
    """The profiled criterion from [X y]' V^-1 [X y] and log|V|: the GLS fixed effects, the penalised residual sum
    of squares and the REML/ML criterion (both ways of :func:`evaluate` end here)."""
    p, N = prob.p, prob.dof
    F = XyVXy[:p, :p]
    Lf = linalg.cholesky(F, lower=True, check_finite=False)
    beta = linalg.cho_solve((Lf, True), XyVXy[:p, p], check_finite=False)
    r2 = float(XyVXy[p, p] - XyVXy[:p, p] @ beta)
    if not r2 > 0:
        raise np.linalg.LinAlgError(f"penalised residual sum of squares is {r2} (the model fits exactly)")
    logdet_f = 2.0 * np.log(np.diag(Lf)).sum()
    crit = logdet_v + (logdet_f if prob.reml else 0.0) + N * (1.0 + np.log(2.0 * np.pi * r2 / N))
    return dict(criterion=float(crit), beta=beta, r2=r2, F=F, Lf=Lf)


def _evaluate_dense(prob: Problem, gamma, order: int = 0) -> dict:
    """:func:`evaluate` the direct way, with q x q matrices throughout (tests/test_mixed.py checks one by the other)."""
    gamma = np.asarray(gamma, float)
    p, N = prob.p, prob.dof
    lam = np.sqrt(np.maximum(gamma, 0.0))[prob.which]
    A = prob.ZtZ * np.outer(lam, lam)
    A[np.diag_indices_from(A)] += 1.0
    L = linalg.cholesky(A, lower=True, check_finite=False)
    logdet_v = 2.0 * np.log(np.diag(L)).sum()
    Sxy = linalg.solve_triangular(L, lam[:, None] * prob.ZtXy, lower=True, check_finite=False)
    XyVXy = prob.XytXy - Sxy.T @ Sxy
    out = _profiled(prob, XyVXy, logdet_v)
    beta, r2, Lf = out["beta"], out["r2"], out["Lf"]
    if order == 0:
        return out
    K = len(prob.sizes)
    Sz = linalg.solve_triangular(L, lam[:, None] * prob.ZtZ, lower=True, check_finite=False)
    ZVXy = prob.ZtXy - Sz.T @ Sxy
    ZVX = ZVXy[:, :p]
    Zqy = ZVXy[:, p] - ZVX @ beta  # Z'Q y = Z'V^-1 (y - X beta)
    T = linalg.solve_triangular(Lf, ZVX.T, lower=True, check_finite=False)  # F^-1 = Lf^-T Lf^-1
    r2_grad = np.array([-(Zqy[b] ** 2).sum() for b in prob.blocks])
    if order == 1:
        diag_w = np.diag(prob.ZtZ) - (Sz ** 2).sum(axis=0)
        if prob.reml:
            diag_w = diag_w - (T ** 2).sum(axis=0)
        tr = np.array([diag_w[b].sum() for b in prob.blocks])
        out.update(grad=tr + N * r2_grad / r2, ZVX=ZVX, Zqy=Zqy, r2_grad=r2_grad)
        return out
    W = prob.ZtZ - Sz.T @ Sz  # Z'V^-1 Z
    WQ = W - T.T @ T  # Z'Q Z
    Wm = WQ if prob.reml else W
    tr = np.array([np.trace(Wm[b, b]) for b in prob.blocks])
    logdet_hess = np.empty((K, K))
    r2_hess = np.empty((K, K))
    for k, bk in enumerate(prob.blocks):
        for l, bl in enumerate(prob.blocks[: k + 1]):
            logdet_hess[k, l] = logdet_hess[l, k] = -(Wm[bk, bl] ** 2).sum()
            r2_hess[k, l] = r2_hess[l, k] = 2.0 * Zqy[bk] @ WQ[bk, bl] @ Zqy[bl]
    hess = logdet_hess + N * (r2_hess / r2 - np.outer(r2_grad, r2_grad) / r2 ** 2)
    out.update(grad=tr + N * r2_grad / r2, hess=hess, logdet_hess=logdet_hess, r2_grad=r2_grad, r2_hess=r2_hess,
               ZVX=ZVX, Zqy=Zqy)
    return out


def criterion(prob: Problem, gamma) -> float:
    """The profiled REML (or ML) criterion at ``gamma = theta^2``; ``inf`` where it is undefined.

    Used in: notebooks 03 and 08 through :func:`helpers.study.mixed.mixed_model` (the statsmodels engine's
        criterion); tests/test_mixed.py.
    """
    try:
        return evaluate(prob, gamma)["criterion"]
    except np.linalg.LinAlgError:
        return np.inf


def moment_start(prob: Problem) -> np.ndarray:
    """Moment estimates of gamma: between-level variance of the OLS residuals' level means over their variance.

    Used in: notebooks 03 and 08 through :func:`helpers.study.mixed.mixed_model` (a start of :func:`fit`).
    """
    p = prob.p
    XtX, Xty, yty = prob.XytXy[:p, :p], prob.XytXy[:p, p], prob.XytXy[p, p]
    b = np.linalg.lstsq(XtX, Xty, rcond=None)[0]
    s2 = max((yty - Xty @ b) / max(prob.n - p, 1), 1e-12)
    counts = np.diag(prob.ZtZ)
    resid_sum = prob.ZtXy[:, p] - prob.ZtXy[:, :p] @ b  # per level: sum of the OLS residuals
    out = []
    for blk in prob.blocks:
        c = counts[blk]
        means = resid_sum[blk] / np.maximum(c, 1)
        between = np.average(means ** 2, weights=c) - s2 / max(np.mean(c), 1)
        out.append(max(between / s2, 0.01))
    return np.array(out)


@dataclass
class Fit:
    """A minimum of the profiled criterion: gamma (= theta^2), the criterion, and how it was reached.

    Used in: notebooks 03 and 08 through :func:`helpers.study.mixed.mixed_model`; tests/test_mixed.py.
    """

    gamma: np.ndarray
    criterion: float
    converged: bool
    iterations: int
    message: str
    starts: list = field(default_factory=list)  # (start, gamma, criterion, converged) of every start

    @property
    def theta(self) -> np.ndarray:
        return np.sqrt(self.gamma)


def _newton(prob: Problem, x0, *, maxit: int = 200, tol: float = 1e-15):
    """Projected Newton from ``x0`` (Bertsekas 1982): Newton on the free gammas, bound 0 on the active ones."""
    x = np.maximum(np.asarray(x0, float), 0.0)
    ev = evaluate(prob, x, order=2)
    c = ev["criterion"]
    for it in range(1, maxit + 1):
        g, H = ev["grad"], ev["hess"]
        pg = x - np.maximum(x - g, 0.0)  # projected gradient: 0 exactly at a KKT point
        eps = min(1e-8, float(np.abs(pg).max()))
        active = (x <= eps) & (g > 0)
        free = ~active
        d = np.zeros_like(x)
        decrease = 0.0
        if free.any():
            w, U = np.linalg.eigh(H[np.ix_(free, free)])
            w = np.maximum(np.abs(w), 1e-10 * max(1.0, float(np.abs(w).max())))  # a descent direction where H is not PD
            d[free] = -U @ ((U.T @ g[free]) / w)
            decrease = float(-g[free] @ d[free])  # the Newton decrement squared: twice the predicted decrease
        d[active] = -x[active]
        scale = 1.0 + abs(c)
        if decrease / 2 < tol * scale and not (x[active] > 0).any():
            return x, c, True, it - 1, "projected gradient and predicted decrease below tolerance"
        alpha = 1.0
        while True:
            xn = np.maximum(x + alpha * d, 0.0)
            cn = criterion(prob, xn)
            if cn <= c - 1e-4 * (alpha * decrease + g[active] @ (x[active] - xn[active])) or alpha < 1e-12:
                break
            alpha /= 2
        if not cn < c:  # no decrease possible in this direction (numerical floor)
            small = decrease / 2 < 1e-9 * scale
            return x, c, small, it, "no further decrease (criterion at its numerical floor)" if small else \
                "line search failed"
        x = xn
        ev = evaluate(prob, x, order=2)
        c = ev["criterion"]
    return x, c, False, maxit, f"no convergence in {maxit} Newton steps"


def fit(prob: Problem, starts=None) -> Fit:
    """Minimise the profiled criterion over gamma >= 0 from several starts; the lowest criterion wins.

    Starts (unless given): the moment estimates (:func:`moment_start`), lme4's default ``theta = 1`` and the
    moment estimates over 10. A start that fails numerically is recorded and skipped.

    Used in: notebooks 03 and 08 through :func:`helpers.study.mixed.mixed_model`; tests/test_mixed.py.
    """
    if starts is None:
        m = moment_start(prob)
        starts = [m, np.ones_like(m), m / 10]
    best, runs = None, []
    for s in starts:
        try:
            x, c, ok, it, msg = _newton(prob, s)
        except np.linalg.LinAlgError as err:
            runs.append((np.asarray(s, float), None, np.inf, False, f"failed: {err}"))
            continue
        runs.append((np.asarray(s, float), x, c, ok, msg))
        if best is None or c < best.criterion - 1e-12 * (1 + abs(c)) or (c <= best.criterion and ok):
            best = Fit(gamma=x, criterion=c, converged=ok, iterations=it, message=msg)
    if best is None:
        raise np.linalg.LinAlgError("every start failed: " + "; ".join(r[4] for r in runs))
    best.starts = runs
    return best


def satterthwaite(prob: Problem, gamma) -> dict:
    """Fixed effects, lme4's vcov and lmerTest's Satterthwaite df at ``gamma``.

    lmerTest takes the Hessian ``h`` of the deviance as a function of the variance parameters
    (``devfun_vp``: theta and sigma, beta profiled), ``vcov(varpar) = 2 h^-1`` over the eigenvalues above
    1e-8, and the Jacobian of ``vcov(beta) = sigma^2 (X'V^-1X)^-1``; for an effect ``j`` the df are
    ``2 var_j^2 / (grad_j' vcov(varpar) grad_j)``. Here the parameters are (gamma_k, sigma^2) with the exact
    Hessian and Jacobian: at the optimum the df do not depend on the parametrisation (the Hessians are
    related by the Jacobian of the change of variables, the gradient being 0). A component at theta = 0
    contributes nothing in lmerTest's parametrisation (its column of the Jacobian of vcov(beta) is 0 and its
    Hessian row decouples), so it is left out here.

    Returns a dict: beta, vcov, se, df, sigma2 (lme4's sigma^2 = r^2 / (n - p) for REML, r^2 / n for ML).

    Used in: notebooks 03 and 08 through :func:`helpers.study.mixed.mixed_model`; tests/test_mixed.py.
    """
    gamma = np.asarray(gamma, float)
    ev = evaluate(prob, gamma, order=2)
    N, p = prob.dof, prob.p
    s = ev["r2"] / N
    Finv = linalg.cho_solve((ev["Lf"], True), np.eye(p), check_finite=False)
    vcov = s * Finv
    keep = [k for k in range(len(gamma)) if gamma[k] > 0]
    # Hessian of dev(gamma, s) = logdet(gamma) + r2(gamma) / s + N log(2 pi s)
    K = len(keep)
    H = np.empty((K + 1, K + 1))
    H[:K, :K] = ev["logdet_hess"][np.ix_(keep, keep)] + ev["r2_hess"][np.ix_(keep, keep)] / s
    H[:K, K] = H[K, :K] = -ev["r2_grad"][keep] / s ** 2
    H[K, K] = 2 * ev["r2"] / s ** 3 - N / s ** 2
    w, U = np.linalg.eigh(H)
    pos = w > LMERTEST_EIG_TOL
    Hinv = (U[:, pos] / w[pos]) @ U[:, pos].T
    # d vcov_jj / d gamma_k = s [F^-1 X'V^-1 Z_k Z_k' V^-1 X F^-1]_jj ; d vcov_jj / d s = [F^-1]_jj
    G = ev["ZVX"] @ Finv  # q x p
    grads = np.empty((K + 1, p))
    for i, k in enumerate(keep):
        grads[i] = s * (G[prob.blocks[k]] ** 2).sum(axis=0)
    grads[K] = np.diag(Finv)
    var = np.diag(vcov)
    denom = np.einsum("ij,ik,kj->j", grads, Hinv, grads)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = var ** 2 / denom  # = 2 var^2 / (grad' (2 H^-1) grad)
    return dict(beta=ev["beta"], vcov=vcov, se=np.sqrt(var), df=df, sigma2=s, criterion=ev["criterion"],
                grad=ev["grad"], hess=ev["hess"])
