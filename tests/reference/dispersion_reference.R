#!/usr/bin/env Rscript
## Reference values for mixedfit's family parameters with their own formulas
## (sigma=, alpha=; brms' distributional parameters), from glmmTMB's dispformula.
##
## Usage (from the repo root):  Rscript tests/reference/dispersion_reference.R
## Writes tests/reference/dispersion_reference.json next to this script.
## Reads mixedfit/datasets/sleepstudy.csv and salamanders.csv (written by
## lme4_reference.R and zero_inflated_reference.R) and checks them against the R copies.
##
## Requires: glmmTMB, lme4, jsonlite
## (Debian: apt-get install r-base-core r-cran-glmmtmb r-cran-lme4 r-cran-jsonlite)
##
## glmmTMB 1.1.5's Gaussian dispersion model is on the log *variance* scale
## (sigma(fit)^2 = exp(dispersion intercept) without predictors): its coefficients and
## standard errors are halved here to give mixedfit's log sigma. For nbinom2 it is
## log theta (Var = mu + mu^2 / theta), mixedfit's log alpha. glmmTMB 1.1.5 takes no
## random effects in dispformula, so the references have none there.

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

sleep <- read.csv(file.path(datasets_dir, "sleepstudy.csv"))
data(sleepstudy, package = "lme4")
stopifnot(isTRUE(all.equal(sleep$Reaction, sleepstudy$Reaction, tolerance = 0)),
          isTRUE(all.equal(as.numeric(sleep$Days), as.numeric(sleepstudy$Days), tolerance = 0)))
sleep$Subject <- factor(sleep$Subject)

sal <- read.csv(file.path(datasets_dir, "salamanders.csv"))
data(Salamanders, package = "glmmTMB")
stopifnot(identical(sal$count, Salamanders$count),
          identical(sal$mined, as.character(Salamanders$mined)))
sal$mined <- factor(sal$mined, levels = c("yes", "no"))   # R's order (glmmTMB's data)

table_of <- function(co, names_map, scale = 1) {
  stopifnot(all(rownames(co) %in% names(names_map)))
  setNames(lapply(seq_len(nrow(co)), function(i)
    list(estimate = unname(co[i, 1]) * scale, se = unname(co[i, 2]) * scale)),
    unname(names_map[rownames(co)]))
}

## ---------------------------------------------------------------------------
## sleepstudy: the residual sd changes with Days
## ---------------------------------------------------------------------------
fit <- glmmTMB(Reaction ~ Days + (Days | Subject), dispformula = ~ Days, data = sleep)
sm <- summary(fit)$coefficients
vc <- VarCorr(fit)$cond$Subject
sleep_entry <- list(
  call = "glmmTMB(Reaction ~ Days + (Days | Subject), dispformula = ~ Days, data = sleepstudy)",
  fixed = table_of(sm$cond, c("(Intercept)" = "Intercept", "Days" = "Days")),
  ## log variance halved: mixedfit's log sigma
  sigma = table_of(sm$disp, c("(Intercept)" = "sigma_Intercept", "Days" = "sigma_Days"), 0.5),
  sd = list(Intercept = unname(attr(vc, "stddev")[1]), Days = unname(attr(vc, "stddev")[2])),
  cor = unname(attr(vc, "correlation")[1, 2]),
  logLik = as.numeric(logLik(fit)),
  convergence = list(code = fit$fit$convergence, pdHess = fit$sdr$pdHess)
)
## the log-variance scale, checked on the same model without dispformula
fit0 <- glmmTMB(Reaction ~ Days + (Days | Subject), data = sleep)
stopifnot(abs(sigma(fit0)^2 - exp(fixef(fit0)$disp[[1]])) < 1e-6 * sigma(fit0)^2)

## ---------------------------------------------------------------------------
## Salamanders: the negative binomial's shape differs between mined and other streams
## ---------------------------------------------------------------------------
fit_nb <- glmmTMB(count ~ mined + (1 | site), dispformula = ~ mined, family = nbinom2,
                  data = sal)
sm <- summary(fit_nb)$coefficients
fit_nb0 <- glmmTMB(count ~ mined + (1 | site), family = nbinom2, data = sal)
stopifnot(abs(sigma(fit_nb0) - exp(fixef(fit_nb0)$disp[[1]])) < 1e-8)   # log theta
nb_entry <- list(
  call = "glmmTMB(count ~ mined + (1 | site), dispformula = ~ mined, family = nbinom2, data = Salamanders)",
  note = "R's reference level of mined is yes: (Intercept) is mined = yes, minedno the difference",
  fixed = table_of(sm$cond, c("(Intercept)" = "Intercept", "minedno" = "mined[no]")),
  alpha = table_of(sm$disp, c("(Intercept)" = "alpha_Intercept", "minedno" = "alpha_mined[no]")),
  site_sd = unname(attr(VarCorr(fit_nb)$cond$site, "stddev")[1]),
  logLik = as.numeric(logLik(fit_nb)),
  convergence = list(code = fit_nb$fit$convergence, pdHess = fit_nb$sdr$pdHess)
)

out <- list(
  models = list(sleepstudy_sigma = sleep_entry, salamanders_nb_alpha = nb_entry),
  versions = list(R = R.version.string, glmmTMB = as.character(packageVersion("glmmTMB")),
                  TMB = as.character(packageVersion("TMB")),
                  jsonlite = as.character(packageVersion("jsonlite")))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(script_dir, "dispersion_reference.json"))
str(out$models, max.level = 3)
