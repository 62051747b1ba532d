#!/usr/bin/env Rscript
## Reference values from lme4's glmer.nb (negative binomial GLMM, Laplace approximation)
## for the tests of mixedfit's negative binomial family.
##
## Usage (from any directory):  Rscript tests/reference/glmer_nb_reference.R
## Reads mixedfit/datasets/grouseticks.csv (lme4's grouseticks as bundled with
## mixedfit); writes glmer_nb_reference.json next to this script.
##
## Requires: lme4, jsonlite (Debian: apt-get install r-base-core r-cran-lme4 r-cran-jsonlite)

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

script_dir <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
})
gt <- read.csv(file.path(script_dir, "..", "..", "mixedfit", "datasets", "grouseticks.csv"))
## the data are lme4's own (the rows as lme4 bundles them)
data(grouseticks, package = "lme4")
stopifnot(nrow(gt) == nrow(grouseticks), all(gt$TICKS == grouseticks$TICKS),
          isTRUE(all.equal(gt$HEIGHT, grouseticks$HEIGHT)))
gt$BROOD <- factor(gt$BROOD)
gt$LOCATION <- factor(gt$LOCATION)

## mixedfit: TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION), family
## "negativebinomial" (alpha is glmer.nb's theta: variance mu + mu^2 / theta)
f <- glmer.nb(TICKS ~ factor(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION),
              data = gt, control = glmerControl(optimizer = "bobyqa"))
co <- summary(f)$coefficients
vc <- as.data.frame(VarCorr(f))
out <- list(
  lme4_version = as.character(packageVersion("lme4")),
  r_version = R.version.string,
  formula = "TICKS ~ factor(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)",
  call = "glmer.nb(..., control = glmerControl(optimizer = \"bobyqa\"))",
  fixed = setNames(lapply(seq_len(nrow(co)), function(i)
    list(estimate = co[i, 1], se = co[i, 2])), rownames(co)),
  random = lapply(seq_len(nrow(vc)), function(i) list(group = vc$grp[i], sdcor = vc$sdcor[i])),
  theta = getME(f, "glmer.nb.theta"),
  logLik = as.numeric(logLik(f))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(script_dir, "glmer_nb_reference.json"))
print(summary(f))
