#!/usr/bin/env Rscript
## Reference values for mixedfit's categorical (multinomial logit) family, from
## nnet::multinom, on data simulated here with a fixed seed.
##
## Usage (from the repo root):  Rscript tests/reference/categorical_reference.R
## Writes, next to this script:
##   categorical_data.csv       (600 rows: mode in walk/bike/car, x numeric, site a/b/c)
##   categorical_reference.json (multinom's coefficients, standard errors, logLik)
##
## Requires: nnet, jsonlite
## (Debian: apt-get install r-base-core r-cran-nnet r-cran-jsonlite)
##
## multinom's parameterisation is mixedfit's: the first level (walk) is the reference,
## each other category has its own intercept and coefficients, the log odds against it.
## multinom fits no group effects; those are checked in mixedfit by recovery, by the
## compiled density against PyMC's and by SBC.

suppressPackageStartupMessages({
  library(nnet)
  library(jsonlite)
})

script_dir <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
})

set.seed(20261130)
n <- 600
x <- round(rnorm(n, 2, 1.5), 4)           # far from 0: the intercepts sit at its mean
site <- sample(c("a", "b", "c"), n, replace = TRUE)
eta_bike <- -0.4 + 0.6 * x - 0.5 * (site == "b") + 0.3 * (site == "c")
eta_car <- -1.5 + 0.2 * x + 0.8 * (site == "b") + 0.1 * (site == "c")
p <- cbind(1, exp(eta_bike), exp(eta_car))
p <- p / rowSums(p)
mode <- c("walk", "bike", "car")[apply(p, 1, function(pr) sample(3, 1, prob = pr))]
data <- data.frame(mode = mode, x = x, site = site)
path <- file.path(script_dir, "categorical_data.csv")
write.csv(data, path, row.names = FALSE)
back <- read.csv(path)
stopifnot(identical(back$mode, data$mode), isTRUE(all.equal(back$x, data$x, tolerance = 0)),
          identical(back$site, data$site))

data$mode <- factor(data$mode, levels = c("walk", "bike", "car"))
fit <- multinom(mode ~ x + site, data = data, trace = FALSE, reltol = 1e-12, maxit = 1000)
co <- coef(fit)
se <- summary(fit)$standard.errors
term_map <- c("(Intercept)" = "Intercept", "x" = "x", "siteb" = "site[b]", "sitec" = "site[c]")
fixed <- list()
for (cat in rownames(co)) {
  for (term in colnames(co)) {
    fixed[[paste0("mu", cat, "_", term_map[[term]])]] <- list(estimate = unname(co[cat, term]),
                                                          se = unname(se[cat, term]))
  }
}
out <- list(
  models = list(multinom = list(
    call = "multinom(mode ~ x + site, data, reltol = 1e-12) with mode's levels walk, bike, car",
    fixed = fixed, logLik = as.numeric(logLik(fit)), nobs = n,
    convergence = fit$convergence)),
  data = "categorical_data.csv",
  simulation = list(seed = 20261130, eta_bike = "-0.4 + 0.6 x - 0.5 [site b] + 0.3 [site c]",
                    eta_car = "-1.5 + 0.2 x + 0.8 [site b] + 0.1 [site c]"),
  versions = list(R = R.version.string, nnet = as.character(packageVersion("nnet")),
                  jsonlite = as.character(packageVersion("jsonlite")))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(script_dir, "categorical_reference.json"))
print(co)
print(se)
