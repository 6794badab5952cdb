"""R's lme4 and lmerTest as the oracle of the mixed model: the same designs fitted by ``lmer`` in one Rscript run.

Needs ``Rscript`` with the R packages lme4, lmerTest and jsonlite (Debian: r-base-core r-cran-lme4
r-cran-lmertest r-cran-jsonlite; .ci/run installs them). Each design's table (y, the fixed-effect columns,
the grouping factors) goes to a CSV in a temporary folder, written with 17 significant digits so R reads
the same doubles; R fits ``y ~ terms + (1 | f1) + (1 | f2) ...`` three times:

* lme4's default (``lmerControl()``: nloptwrap BOBYQA in lme4 1.1-31),
* a tight bobyqa refit (minqa; ``optCtrl = list(maxfun = 1e5, rhobeg = 0.2, rhoend = 1e-12)``),
* a tight nloptwrap refit (``xtol_abs = 1e-12, ftol_abs = 1e-14, maxeval = 1e5``),

and reports the fit with the lowest criterion (``REMLcrit`` for REML, ``deviance`` for ML) as lme4's
best fit, with lmerTest's Satterthwaite df (``as_lmerModLmerTest`` then ``contest1D`` per coefficient, as
``summary()`` prints them) and the time of every fit.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

R_PACKAGES = ("lme4", "lmerTest", "jsonlite")
INSTALL_HINT = "apt-get install r-base-core r-cran-lme4 r-cran-lmertest r-cran-jsonlite"

_SCRIPT = r"""
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
manifest <- fromJSON(args[1], simplifyVector = FALSE)
controls <- list(
  default = lmerControl(),
  bobyqa = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhobeg = 0.2, rhoend = 1e-12),
                       calc.derivs = FALSE),
  nloptwrap = lmerControl(optimizer = "nloptwrap", optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14,
                          xtol_rel = 0, ftol_rel = 0, maxeval = 1e5), calc.derivs = FALSE))
out <- list()
for (d in manifest$designs) {
  dat <- read.csv(d$csv, colClasses = c(rep("numeric", 1 + length(d$terms)), rep("character", length(d$factors))))
  for (f in d$factors) dat[[f]] <- factor(dat[[f]])
  fixed <- if (length(d$terms)) paste(d$terms, collapse = " + ") else "1"
  form <- as.formula(paste("y ~", fixed, "+", paste0("(1 | ", unlist(d$factors), ")", collapse = " + ")))
  reml <- isTRUE(d$reml)
  assign("dat", dat, envir = globalenv())
  fits <- list(); times <- list(); crit <- c(); warn <- list()
  for (name in names(controls)) {
    ctl <- controls[[name]]
    tt <- c()
    for (r in seq_len(max(1, d$repeats))) {
      msgs <- character(0)
      t0 <- proc.time()[["elapsed"]]
      m <- withCallingHandlers(lme4::lmer(form, data = dat, REML = reml, control = ctl),
                               warning = function(w) {msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning")},
                               message = function(w) {msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleMessage")})
      tt <- c(tt, proc.time()[["elapsed"]] - t0)
    }
    fits[[name]] <- m; times[[name]] <- tt; warn[[name]] <- msgs
    crit[name] <- if (reml) REMLcrit(m) else deviance(m)
  }
  best_name <- names(which.min(crit))
  best <- fits[[best_name]]
  p <- length(fixef(best))
  df <- rep(NA_real_, p)
  if (isTRUE(d$satterthwaite)) {
    lt <- lmerTest::as_lmerModLmerTest(best)
    df <- sapply(seq_len(p), function(j) {L <- rep(0, p); L[j] <- 1; lmerTest::contest1D(lt, L)$df})
  }
  th <- getME(best, "theta")
  out[[d$name]] <- list(
    theta = as.list(setNames(unname(th), sub("\\..*$", "", names(th)))),
    sigma = sigma(best), beta = as.list(fixef(best)), se = as.list(setNames(sqrt(diag(as.matrix(vcov(best)))), names(fixef(best)))),
    df = as.list(setNames(df, names(fixef(best)))), criterion = unname(crit[best_name]), best = best_name,
    criteria = as.list(crit), is_singular = isSingular(best), times = times, warnings = warn,
    versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                    lmerTest = as.character(packageVersion("lmerTest"))))
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), args[2])
"""


def missing() -> str | None:
    """Why R's lme4 cannot be run here (no Rscript, or which R packages are absent), or None when it can.

    Used in: no notebook; tests/test_mixed_lme4.py and benchmarks/mixed.py.
    """
    rscript = shutil.which("Rscript")
    if not rscript:
        return f"no Rscript on PATH ({INSTALL_HINT})"
    code = "cat(Filter(function(p) !requireNamespace(p, quietly = TRUE), c(%s)))" % ", ".join(f'"{p}"' for p in R_PACKAGES)
    res = subprocess.run([rscript, "-e", code], capture_output=True, text=True, timeout=120)
    absent = res.stdout.split()
    if res.returncode or absent:
        return f"R lacks the packages {absent or res.stderr.strip()[-300:]} ({INSTALL_HINT})"
    return None


def fit_lmer(designs: dict, *, repeats: int = 1, satterthwaite: bool = True, timeout: float = 1800) -> dict:
    """Fit each design with lme4 (default and two tight refits) in one Rscript process; lme4's best fit per design.

    Args:
        designs: ``{name: helpers.study.mixed.Design}``.
        repeats: fits per control (their wall times are returned; the last fit is kept).
        satterthwaite: also lmerTest's df (NaN otherwise; they take a numerical Hessian).
        timeout: seconds for the whole R run.

    Returns:
        ``{name: dict}`` with theta (``{factor: relative sd}``), sigma, beta, se, df (lmerTest
        Satterthwaite; ``{term: value}`` with "const" for R's "(Intercept)"), criterion (the best of the three
        fits: REMLcrit, or deviance for ML), best (which control gave it), criteria, is_singular, times
        (seconds per fit and control), warnings, versions.

    Used in: no notebook; tests/test_mixed_lme4.py and benchmarks/mixed.py.
    """
    why = missing()
    if why:
        raise RuntimeError(f"R's lme4 cannot be run: {why}")
    with tempfile.TemporaryDirectory(prefix="lme4-") as tmp:
        tmp = Path(tmp)
        entries = []
        for i, (name, d) in enumerate(designs.items()):
            table = d.data
            bad = [c for c in table.columns[1:] if not str(c).isidentifier() or c == "y"]
            if bad:
                raise ValueError(f"fit_lmer: design {name!r} has column names R cannot take as they are: {bad}")
            csv = tmp / f"design{i}.csv"
            table.to_csv(csv, index=False, float_format="%.17g")
            entries.append(dict(name=name, csv=str(csv), terms=[c for c in d.X.columns if c != "const"],
                                factors=list(d.factors), reml=bool(d.reml), repeats=int(repeats),
                                satterthwaite=bool(satterthwaite)))
        (tmp / "manifest.json").write_text(json.dumps({"designs": entries}))
        (tmp / "fit.R").write_text(_SCRIPT)
        res = subprocess.run(["Rscript", str(tmp / "fit.R"), str(tmp / "manifest.json"), str(tmp / "out.json")],
                             capture_output=True, text=True, timeout=timeout)
        if res.returncode:
            raise RuntimeError(f"Rscript failed (exit {res.returncode}): {res.stderr.strip()[-2000:]}")
        out = json.loads((tmp / "out.json").read_text())
    rename = lambda m: {("const" if k == "(Intercept)" else k): v for k, v in m.items()}  # noqa: E731
    for name, r in out.items():
        for key in ("beta", "se", "df"):
            r[key] = {k: (np.nan if v is None or v == "NA" else float(v)) for k, v in rename(r[key]).items()}
        r["times"] = {k: np.atleast_1d(v).astype(float).tolist() for k, v in r["times"].items()}
    return out
