#!/usr/bin/env Rscript
## Reference values for mixedfit's cumulative (ordinal) family, from ordinal::clmm and
## ordinal::clm, and the provenance of the wine data set bundled with mixedfit.
##
## Usage (from the repo root):  Rscript tests/reference/cumulative_reference.R
## (any working directory works: paths are relative to this script).
## Writes:
##   tests/reference/cumulative_reference.json  (next to this script)
##   mixedfit/datasets/wine.csv                 (ordinal's wine, all columns)
## and reads wine.csv back to check it against ordinal's copy.
##
## Requires: ordinal, jsonlite
## (Debian: apt-get install r-base-core r-cran-ordinal r-cran-jsonlite)

suppressPackageStartupMessages({
  library(ordinal)
  library(jsonlite)
})

script_dir <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
})
datasets_dir <- file.path(script_dir, "..", "..", "mixedfit", "datasets")

## ---------------------------------------------------------------------------
## Data: ordinal's wine (Randall 1989): bitterness ratings 1-5 of 8 wines (two
## temperatures x two contact levels x two bottles) by 9 judges
## ---------------------------------------------------------------------------
data(wine, package = "ordinal")
out_wine <- data.frame(response = wine$response, rating = as.integer(as.character(wine$rating)),
                       temp = as.character(wine$temp), contact = as.character(wine$contact),
                       bottle = as.integer(as.character(wine$bottle)),
                       judge = as.integer(as.character(wine$judge)))
wine_path <- file.path(datasets_dir, "wine.csv")
write.csv(out_wine, wine_path, row.names = FALSE, quote = c(3L, 4L))
back <- read.csv(wine_path)
stopifnot(identical(back$rating, as.integer(wine$rating)),
          identical(back$temp, as.character(wine$temp)),
          identical(back$contact, as.character(wine$contact)),
          identical(back$judge, as.integer(wine$judge)),
          isTRUE(all.equal(as.numeric(back$response), wine$response, tolerance = 0)))

## ---------------------------------------------------------------------------
## Fits: logit P(y <= k) = theta_k - eta (ordinal's convention, mixedfit's too)
## ---------------------------------------------------------------------------
name_map <- c("1|2" = "Intercept[1]", "2|3" = "Intercept[2]", "3|4" = "Intercept[3]",
              "4|5" = "Intercept[4]", "tempwarm" = "temp[warm]",
              "contactyes" = "contact[yes]")

coef_table <- function(co) {
  stopifnot(all(rownames(co) %in% names(name_map)))
  setNames(lapply(seq_len(nrow(co)), function(i)
    list(estimate = unname(co[i, 1]), se = unname(co[i, 2]))), unname(name_map[rownames(co)]))
}

entry <- function(fit, call_text) {
  co <- summary(fit)$coefficients
  out <- list(call = call_text, link = fit$link, fixed = coef_table(co),
              logLik = as.numeric(logLik(fit)), nobs = nobs(fit))
  if (inherits(fit, "clmm")) {
    out$judge_sd <- unname(sqrt(VarCorr(fit)$judge[1]))
    out$nAGQ <- fit$nAGQ
    ## the optimizer's parameter is log(sd); its se from the covariance of all parameters
    v <- vcov(fit)
    stopifnot(rownames(v)[nrow(v)] == "ST1")
    out$log_judge_sd <- list(estimate = log(out$judge_sd), se = sqrt(v["ST1", "ST1"]) / out$judge_sd)
  }
  out$convergence <- list(code = fit$optRes$convergence, message = fit$optRes$message)
  out
}

models <- list(
  clmm_logit = entry(clmm(rating ~ temp + contact + (1 | judge), data = wine, link = "logit",
                          nAGQ = 10),
    "clmm(rating ~ temp + contact + (1 | judge), data = wine, link = 'logit', nAGQ = 10)"),
  clmm_probit = entry(clmm(rating ~ temp + contact + (1 | judge), data = wine, link = "probit",
                           nAGQ = 10),
    "clmm(rating ~ temp + contact + (1 | judge), data = wine, link = 'probit', nAGQ = 10)"),
  clm_logit = entry(clm(rating ~ temp + contact, data = wine, link = "logit"),
    "clm(rating ~ temp + contact, data = wine, link = 'logit')")
)

out <- list(
  models = models,
  versions = list(R = R.version.string, ordinal = as.character(packageVersion("ordinal")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  data = "wine.csv",
  note = paste("ordinal's parameterisation: P(y <= k) = F(theta_k - eta); 'se' are the",
               "Wald standard errors of the (adaptive Gauss-Hermite, nAGQ = 10) fit; the",
               "judge sd's se is on the log scale, by the delta method from vcov's ST1",
               "(the sd itself)")
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(script_dir, "cumulative_reference.json"))
for (m in names(models)) {
  cat("\n==", m, "==\n")
  str(models[[m]][c("fixed", "judge_sd", "logLik")])
}
