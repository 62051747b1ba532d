#!/usr/bin/env Rscript
## Reference values for mixedfit's observation weights (lme4's `weights =`) and
## known standard errors (random-effects meta-analysis, metafor's rma), and the
## provenance of the two meta-analysis data sets bundled with mixedfit.
##
## Usage (from the repo root):  Rscript tests/reference/weights_se_reference.R
## Reads mixedfit/datasets/sleepstudy.csv and grouseticks.csv (only to check them
## against lme4's bundled copies; the fits use lme4's data, which are identical).
## Writes:
##   tests/reference/weights_se_reference.json  (next to this script)
##   mixedfit/datasets/bcg.csv                  (metafor's dat.bcg + escalc yi, vi, sei)
##   mixedfit/datasets/eight_schools.csv        (Rubin 1981 eight schools)
##
## Requires: lme4, metafor (with metadat, for dat.bcg), jsonlite
## (Debian: apt-get install r-base-core r-cran-lme4 r-cran-metafor r-cran-jsonlite)

suppressPackageStartupMessages({
  library(lme4)
  library(metafor)
  library(jsonlite)
})

script_dir <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
})
datasets_dir <- file.path(script_dir, "..", "..", "mixedfit", "datasets")

## Run a fit, collecting (not suppressing) its warnings so they go into the JSON.
with_warnings <- function(expr) {
  warns <- character(0)
  value <- withCallingHandlers(expr, warning = function(w) {
    warns <<- c(warns, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  if (length(warns)) message("R warnings: ", paste(warns, collapse = " | "))
  list(value = value, warnings = I(warns))
}

## lme4 optimizer/convergence messages (empty when the fit converged cleanly)
conv_messages <- function(fit) I(as.character(unlist(fit@optinfo$conv$lme4$messages)))

## {name: {estimate, se}} with R's coefficient names renamed to mixedfit's
fixed_table <- function(fit, names_map) {
  co <- summary(fit)$coefficients
  stopifnot(identical(rownames(co), names(names_map)))
  setNames(lapply(seq_len(nrow(co)), function(i)
    list(estimate = unname(co[i, 1]), se = unname(co[i, 2]))), unname(names_map))
}

## ---------------------------------------------------------------------------
## a. lmer with precision weights: residual variance of row i is sigma^2 / w_i
## ---------------------------------------------------------------------------
data(sleepstudy, package = "lme4")
ss_csv <- read.csv(file.path(datasets_dir, "sleepstudy.csv"))
stopifnot(nrow(ss_csv) == nrow(sleepstudy),
          isTRUE(all.equal(ss_csv$Reaction, sleepstudy$Reaction, tolerance = 0)),
          all(ss_csv$Days == sleepstudy$Days),
          all(as.character(ss_csv$Subject) == as.character(sleepstudy$Subject)))

ss <- sleepstudy
ss$w <- c(0.5, 1, 2)[(ss$Days %% 3) + 1]   # Days 0,3,6,9 -> 0.5; 1,4,7 -> 1; 2,5,8 -> 2

## Gaussian log-likelihood at the estimates, computed directly from the dense
## marginal covariance: y ~ N(X beta, V), V = Z Sigma Z' + sigma^2 diag(1 / w).
## ML: log N(y; X beta, V). REML: the restricted log-likelihood
##   -0.5 * [(n - p) log(2 pi) + log|V| + log|X' V^-1 X| + r' V^-1 r].
## lme4's logLik agrees with both (checked below), so it includes the
## + 0.5 * sum(log w) term of the weighted residual variances.
direct_loglik <- function(fit, w) {
  y <- getME(fit, "y"); X <- getME(fit, "X"); Z <- as.matrix(getME(fit, "Z"))
  Lambda <- as.matrix(getME(fit, "Lambda")); s <- sigma(fit)
  V <- s^2 * (Z %*% Lambda %*% t(Lambda) %*% t(Z) + diag(1 / w))
  r <- y - X %*% fixef(fit)
  L <- chol(V)
  Lr <- backsolve(L, r, transpose = TRUE)
  ll <- -0.5 * (length(y) * log(2 * pi) + 2 * sum(log(diag(L))) + sum(Lr^2))
  if (isREML(fit)) {
    LX <- backsolve(L, X, transpose = TRUE)
    ll <- ll + 0.5 * ncol(X) * log(2 * pi) -
      0.5 * as.numeric(determinant(crossprod(LX))$modulus)
  }
  ll
}

lmer_entry <- function(reml) {
  res <- with_warnings(lmer(Reaction ~ Days + (Days | Subject), data = ss,
                            weights = w, REML = reml))
  fit <- res$value
  vc <- as.data.frame(VarCorr(fit))
  sub <- vc[vc$grp == "Subject", ]
  out <- list(
    method = if (reml) "REML" else "ML",
    fixed = fixed_table(fit, c("(Intercept)" = "Intercept", "Days" = "Days")),
    sigma = sigma(fit),
    random = list(Subject = list(
      sd = list(Intercept = sub$sdcor[sub$var1 == "(Intercept)" & is.na(sub$var2)],
                Days = sub$sdcor[sub$var1 == "Days" & is.na(sub$var2)]),
      corr = sub$sdcor[!is.na(sub$var2)])),
    logLik = as.numeric(logLik(fit)),
    nobs = nobs(fit),
    warnings = res$warnings,
    convergence = conv_messages(fit)
  )
  out$logLik_direct <- direct_loglik(fit, ss$w)
  stopifnot(abs(out$logLik_direct - out$logLik) < 1e-8)
  out
}

lmer_weighted <- list(
  formula = "Reaction ~ Days + (Days | Subject)",
  data = "sleepstudy",
  weights = "c(0.5, 1, 2)[Days %% 3 + 1]",
  call = "lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, weights = w, REML = FALSE / TRUE)",
  note = paste("weights are precision weights: Var(residual_i) = sigma^2 / w_i.",
               "logLik is lme4's: for ml the marginal log-likelihood, for reml the restricted",
               "log-likelihood -0.5 * [(n - p) log(2 pi) + log|V| + log|X' V^-1 X| + r' V^-1 r];",
               "both include + 0.5 * sum(log(w)). logLik_direct recomputes each from the dense",
               "V = Z Sigma Z' + sigma^2 diag(1 / w) at the estimates (agrees to 1e-8)."),
  ml = lmer_entry(FALSE),
  reml = lmer_entry(TRUE)
)

## ---------------------------------------------------------------------------
## b. Poisson GLMM with prior weights (log-likelihood = sum_i w_i log p(y_i))
## ---------------------------------------------------------------------------
data(grouseticks, package = "lme4")
gt_csv <- read.csv(file.path(datasets_dir, "grouseticks.csv"))
stopifnot(nrow(gt_csv) == nrow(grouseticks),
          all(gt_csv$TICKS == grouseticks$TICKS),
          isTRUE(all.equal(gt_csv$HEIGHT, grouseticks$HEIGHT, tolerance = 0)),
          all(as.character(gt_csv$YEAR) == as.character(grouseticks$YEAR)),
          all(as.character(gt_csv$LOCATION) == as.character(grouseticks$LOCATION)),
          ## INDEX's factor codes are the row numbers 1..403, as in the CSV
          all(as.integer(grouseticks$INDEX) == gt_csv$INDEX),
          all(as.integer(grouseticks$INDEX) == seq_len(nrow(grouseticks))))

gt <- grouseticks
gt$w <- c(1, 2)[(as.integer(gt$INDEX) %% 2) + 1]   # odd INDEX -> 2, even INDEX -> 1

res_p <- with_warnings(glmer(TICKS ~ YEAR + scale(HEIGHT) + (1 | LOCATION),
                             family = poisson, data = gt, weights = w))
fp <- res_p$value
vcp <- as.data.frame(VarCorr(fp))
glmer_poisson_weighted <- list(
  formula = "TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | LOCATION)",
  family = "poisson",
  data = "grouseticks",
  weights = "c(1, 2)[INDEX %% 2 + 1]",
  call = "glmer(TICKS ~ YEAR + scale(HEIGHT) + (1 | LOCATION), family = poisson, data = grouseticks, weights = w)",
  method = "Laplace",
  note = "YEAR is a factor (levels 95, 96, 97); scale(HEIGHT) uses the unweighted mean and sd",
  fixed = fixed_table(fp, c("(Intercept)" = "Intercept", "YEAR96" = "C(YEAR)[96]",
                            "YEAR97" = "C(YEAR)[97]", "scale(HEIGHT)" = "scale(HEIGHT)")),
  random = list(LOCATION = list(sd = list(Intercept = vcp$sdcor[vcp$grp == "LOCATION"]))),
  logLik = as.numeric(logLik(fp)),
  nobs = nobs(fp),
  warnings = res_p$warnings,
  convergence = conv_messages(fp)
)

## ---------------------------------------------------------------------------
## c. Random-effects meta-analysis with known sampling variances (metafor)
##    BCG vaccine trials (Colditz et al. 1994), log risk ratios
## ---------------------------------------------------------------------------
## (since metafor 3.0 its data sets live in the metadat package, which metafor attaches)
data(dat.bcg, package = "metadat")
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)

rma_entry <- function(method) {
  res <- with_warnings(rma(yi, vi, data = dat, method = method))
  fit <- res$value
  out <- list(
    method = method,
    mu = list(estimate = as.numeric(fit$beta), se = fit$se,
              ci_lower = fit$ci.lb, ci_upper = fit$ci.ub),
    tau2 = fit$tau2,
    tau2_se = fit$se.tau2,
    tau = sqrt(fit$tau2),
    logLik = as.numeric(logLik(fit)),
    k = fit$k,
    warnings = res$warnings
  )
  if (method == "REML") {
    ci <- with_warnings(confint(fit))
    rnd <- ci$value$random
    out$tau2_ci <- list(lower = rnd["tau^2", "ci.lb"], upper = rnd["tau^2", "ci.ub"],
                        level = 0.95, method = "Q-profile (metafor confint.rma.uni default)")
    out$tau_ci <- list(lower = rnd["tau", "ci.lb"], upper = rnd["tau", "ci.ub"])
    out$confint_warnings <- ci$warnings
    ## metafor's REML logLik adds + 0.5 * log|X'X| (here 0.5 * log(k)); lme4's does not
    X <- model.matrix(fit)
    out$logLik_without_XtX <- out$logLik -
      0.5 * as.numeric(determinant(crossprod(X))$modulus)
  }
  out
}

rma_bcg <- list(
  data = "bcg (mixedfit/datasets/bcg.csv: metafor's dat.bcg plus yi, vi, sei)",
  escalc = "escalc(measure = \"RR\", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)",
  call = "rma(yi, vi, data = dat, method = \"REML\" / \"ML\")",
  note = paste("yi: log risk ratio, vi: its known sampling variance (sei = sqrt(vi));",
               "model yi ~ N(mu + u_i, vi), u_i ~ N(0, tau2); mu's se and CI are z-based (test = \"z\").",
               "logLik is metafor's: the REML one includes + 0.5 * log|X'X| (= 0.5 * log(k) here),",
               "which lme4's REML logLik does not; reml$logLik_without_XtX is lme4's convention."),
  reml = rma_entry("REML"),
  ml = rma_entry("ML")
)

## ---------------------------------------------------------------------------
## JSON
## ---------------------------------------------------------------------------
out <- list(
  r_version = R.version.string,
  lme4_version = as.character(packageVersion("lme4")),
  matrix_version = as.character(packageVersion("Matrix")),
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  lmer_weighted = lmer_weighted,
  glmer_poisson_weighted = glmer_poisson_weighted,
  rma_bcg = rma_bcg
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(script_dir, "weights_se_reference.json"))

## ---------------------------------------------------------------------------
## Data sets bundled with mixedfit
## ---------------------------------------------------------------------------
## Shortest decimal (15 to 17 significant digits) that reads back as the same double;
## write.csv alone would round to 15 significant digits.
full_precision <- function(x) {
  vapply(x, function(v) {
    for (d in 15:17) {
      s <- formatC(v, digits = d, format = "g")
      if (as.numeric(s) == v) return(trimws(s))
    }
    stop("no round-trip representation for ", v)
  }, character(1), USE.NAMES = FALSE)
}

## bcg.csv: the 13 trials of metafor's dat.bcg (Colditz et al. 1994, JAMA 271:698-702),
## with the log risk ratio yi, its sampling variance vi (escalc above) and sei = sqrt(vi)
bcg <- data.frame(
  trial = dat$trial, author = dat$author, year = dat$year,
  tpos = dat$tpos, tneg = dat$tneg, cpos = dat$cpos, cneg = dat$cneg,
  ablat = dat$ablat, alloc = dat$alloc,
  yi = full_precision(as.numeric(dat$yi)),
  vi = full_precision(as.numeric(dat$vi)),
  sei = full_precision(sqrt(as.numeric(dat$vi))),
  stringsAsFactors = FALSE
)
bcg_path <- file.path(datasets_dir, "bcg.csv")
write.csv(bcg, bcg_path, row.names = FALSE,
          quote = match(c("author", "alloc"), names(bcg)))
back <- read.csv(bcg_path)
stopifnot(nrow(back) == 13L, identical(back$yi, as.numeric(dat$yi)),
          identical(back$vi, as.numeric(dat$vi)), identical(back$sei, sqrt(as.numeric(dat$vi))),
          identical(back$author, dat$author), identical(back$tpos, dat$tpos))

## eight_schools.csv: the SAT coaching experiments in eight schools, estimated
## treatment effects y and their standard errors sigma.
## Rubin, D. B. (1981). Estimation in parallel randomized experiments.
##   Journal of Educational Statistics 6(4), 377-401.
## Gelman, A., Carlin, J. B., Stern, H. S., Dunson, D. B., Vehtari, A. and Rubin, D. B.
##   (2013). Bayesian Data Analysis, 3rd ed., Section 5.5, Table 5.2.
eight <- data.frame(
  school = LETTERS[1:8],
  y = c(28, 8, -3, 7, -1, 1, 18, 12),
  sigma = c(15, 10, 16, 11, 9, 11, 10, 18)
)
write.csv(eight, file.path(datasets_dir, "eight_schools.csv"), row.names = FALSE)

print(summary(lmer(Reaction ~ Days + (Days | Subject), data = ss, weights = w, REML = FALSE)))
print(summary(fp))
print(rma(yi, vi, data = dat, method = "REML"))
print(confint(rma(yi, vi, data = dat, method = "REML")))
