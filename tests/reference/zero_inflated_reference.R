#!/usr/bin/env Rscript
## Reference values for mixedfit's zero-inflated and hurdle count models, from
## glmmTMB, and the provenance of the Salamanders data set bundled with mixedfit.
##
## Usage (from the repo root):  Rscript tests/reference/zero_inflated_reference.R
## (any working directory works: paths are relative to this script).
## Writes:
##   tests/reference/zero_inflated_reference.json  (next to this script)
##   mixedfit/datasets/salamanders.csv             (glmmTMB's Salamanders, all columns)
## and reads salamanders.csv back to check it against glmmTMB's copy.
##
## Requires: glmmTMB, jsonlite
## (Debian: apt-get install r-base-core r-cran-glmmtmb r-cran-jsonlite)

suppressPackageStartupMessages({
  library(glmmTMB)
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

## ---------------------------------------------------------------------------
## Data: glmmTMB's Salamanders (Price et al. 2016), written for mixedfit
## ---------------------------------------------------------------------------
data(Salamanders, package = "glmmTMB")
sal <- Salamanders

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

factor_cols <- names(sal)[vapply(sal, is.factor, logical(1))]     # site, mined, spp
double_cols <- names(sal)[vapply(sal, is.double, logical(1))]     # cover, DOP, Wtemp, DOY
sal_out <- sal
for (v in factor_cols) sal_out[[v]] <- as.character(sal[[v]])     # factor labels
for (v in double_cols) sal_out[[v]] <- full_precision(sal[[v]])
sal_path <- file.path(datasets_dir, "salamanders.csv")
write.csv(sal_out, sal_path, row.names = FALSE, quote = match(factor_cols, names(sal_out)))

back <- read.csv(sal_path)
stopifnot(identical(names(back), names(sal)), nrow(back) == nrow(sal))
for (v in names(sal)) {
  if (v %in% factor_cols) {
    stopifnot(identical(back[[v]], as.character(sal[[v]])))
  } else {
    stopifnot(identical(back[[v]], sal[[v]]))   # integers stay integer, doubles bit-exact
  }
}

## Factor level orders (R's, which the CSV does not carry): site is an ordered
## factor R-1..R-12, VF-1..VF-11 (not alphabetical); mined is yes, no.
factor_levels <- lapply(setNames(factor_cols, factor_cols), function(v) levels(sal[[v]]))
stopifnot(identical(levels(sal$mined), c("yes", "no")))

## ---------------------------------------------------------------------------
## Fits
## ---------------------------------------------------------------------------
cond_map <- c("(Intercept)" = "Intercept", "minedno" = "mined[no]")
zi_map <- c("(Intercept)" = "zi_Intercept", "minedno" = "zi_mined[no]")
z975 <- qnorm(0.975)

## {name: {estimate, se}} with R's coefficient names renamed to mixedfit's
coef_table <- function(co, names_map) {
  stopifnot(all(rownames(co) %in% names(names_map)))
  names_map <- names_map[rownames(co)]
  setNames(lapply(seq_len(nrow(co)), function(i)
    list(estimate = unname(co[i, 1]), se = unname(co[i, 2]))), unname(names_map))
}

fit_entry <- function(family_name, ziformula, call_text, note) {
  fam <- match.fun(family_name)()   # stats::poisson or glmmTMB's nbinom2, truncated_*
  stopifnot(fam$family == family_name)
  res <- with_warnings(glmmTMB(count ~ mined + (1 | site), ziformula = ziformula,
                               family = fam, data = sal))
  fit <- res$value
  sm <- summary(fit)$coefficients
  ll <- logLik(fit)
  vfull <- vcov(fit, full = TRUE)
  out <- list(
    call = call_text,
    family = family_name,
    formula = "count ~ mined + (1 | site)",
    ziformula = paste(deparse(ziformula), collapse = ""),
    fixed = coef_table(sm$cond, cond_map),
    zi = coef_table(sm$zi, zi_map)
  )
  ## probability scale for an intercept-only zi part: plogis(estimate) and the
  ## 95% Wald CI on the logit scale, back-transformed
  if (nrow(sm$zi) == 1L) {
    est <- sm$zi[1, 1]; se <- sm$zi[1, 2]
    out$zi_prob <- list(estimate = plogis(est),
                        ci_lower = plogis(est - z975 * se),
                        ci_upper = plogis(est + z975 * se))
  }
  out$site_sd <- sqrt(VarCorr(fit)$cond$site[1])
  ## the optimizer's parameter is log(sd); its se from the full covariance
  stopifnot(rownames(vfull)[nrow(vfull)] == "theta_1|site.1")
  out$log_site_sd <- list(estimate = unname(fit$fit$par["theta"]),
                          se = sqrt(vfull["theta_1|site.1", "theta_1|site.1"]))
  stopifnot(abs(exp(out$log_site_sd$estimate) - out$site_sd) < 1e-12)
  if (grepl("nbinom2", family_name)) {
    out$theta <- sigma(fit)             # NB2: Var = mu + mu^2 / theta
    out$log_theta <- list(estimate = unname(fixef(fit)$disp["(Intercept)"]),
                          se = sqrt(vfull["d~(Intercept)", "d~(Intercept)"]))
    stopifnot(abs(exp(out$log_theta$estimate) - out$theta) < 1e-12)
  }
  out$logLik <- as.numeric(ll)
  out$df <- attr(ll, "df")
  out$nobs <- nobs(fit)
  out$ngroups_site <- nlevels(droplevels(sal$site))
  out$warnings <- res$warnings
  out$convergence <- list(code = fit$fit$convergence, message = fit$fit$message,
                          pdHess = fit$sdr$pdHess)
  out$note <- note
  if (!isTRUE(fit$sdr$pdHess) || fit$fit$convergence != 0)
    message("NOT CONVERGED: ", call_text)
  out
}

zi_note <- paste("zero-inflated: P(y = 0) = pi + (1 - pi) f(0), P(y = k > 0) = (1 - pi) f(k);",
                 "pi = plogis(zi linear predictor) is the probability of a structural zero")
hurdle_note <- paste("hurdle (glmmTMB's truncated family with ziformula): P(y = 0) = pi,",
                     "P(y = k > 0) = (1 - pi) f(k) / (1 - f(0)); pi = plogis(zi linear predictor)",
                     "is the probability of a zero. With ziformula = ~1 the zero part factorizes,",
                     "so zi_prob equals the observed proportion of zeros")

models <- list(
  zip = fit_entry("poisson", ~1,
    "glmmTMB(count ~ mined + (1 | site), ziformula = ~1, family = poisson, data = Salamanders)",
    zi_note),
  zinb = fit_entry("nbinom2", ~1,
    "glmmTMB(count ~ mined + (1 | site), ziformula = ~1, family = nbinom2, data = Salamanders)",
    paste0(zi_note, "; f is NB2 with Var = mu + mu^2 / theta, theta = sigma(fit)")),
  hurdle_poisson = fit_entry("truncated_poisson", ~1,
    "glmmTMB(count ~ mined + (1 | site), ziformula = ~1, family = truncated_poisson, data = Salamanders)",
    hurdle_note),
  hurdle_nb = fit_entry("truncated_nbinom2", ~1,
    "glmmTMB(count ~ mined + (1 | site), ziformula = ~1, family = truncated_nbinom2, data = Salamanders)",
    paste0(hurdle_note, "; f is NB2 with Var = mu + mu^2 / theta (of the untruncated NB), theta = sigma(fit)")),
  zip_zi_mined = fit_entry("poisson", ~mined,
    "glmmTMB(count ~ mined + (1 | site), ziformula = ~mined, family = poisson, data = Salamanders)",
    zi_note)
)

## Hurdle check: an intercept-only zero part is estimated by the observed
## proportion of zeros, p0, with logit-scale se sqrt(1 / (n p0 (1 - p0))).
p0 <- mean(sal$count == 0)
for (m in c("hurdle_poisson", "hurdle_nb")) {
  z <- models[[m]]$zi$zi_Intercept
  stopifnot(abs(plogis(z$estimate) - p0) < 1e-6,
            abs(z$se - sqrt(1 / (nrow(sal) * p0 * (1 - p0)))) < 1e-4)
}

## ---------------------------------------------------------------------------
## JSON
## ---------------------------------------------------------------------------
out <- list(
  models = models,
  versions = list(
    R = R.version.string,
    glmmTMB = as.character(packageVersion("glmmTMB")),
    TMB = as.character(packageVersion("TMB")),
    Matrix = as.character(packageVersion("Matrix")),
    jsonlite = as.character(packageVersion("jsonlite"))
  ),
  data = "salamanders.csv",
  factor_levels = factor_levels,
  proportion_zero = p0
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(script_dir, "zero_inflated_reference.json"))

for (m in names(models)) {
  cat("\n==", m, "==\n")
  keys <- intersect(c("fixed", "zi", "zi_prob", "site_sd", "theta", "logLik", "convergence",
                      "warnings"), names(models[[m]]))
  str(models[[m]][keys], digits.d = 8)
}
