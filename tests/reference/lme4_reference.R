#!/usr/bin/env Rscript
## Reference values from R's lme4 for the tests of the Python package mixedfit.
##
## Usage (from this directory):
##   Rscript lme4_reference.R [path/to/verbagg.csv]
## The verbagg path defaults to ../../../shared/data/verbagg.csv (relative to
## this script's directory).  The other data sets are read from
## ../../mixedfit/datasets/.  Output: lme4_reference.json next to this script.
##
## Requires: lme4, jsonlite (Debian: apt-get install r-base-core r-cran-lme4 r-cran-jsonlite)

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

## ---------------------------------------------------------------- paths ----
script_dir <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
})
data_dir <- file.path(script_dir, "..", "..", "mixedfit", "datasets")
targs <- commandArgs(trailingOnly = TRUE)
verbagg_path <- if (length(targs) >= 1L) targs[1L] else
  file.path(script_dir, "..", "..", "..", "shared", "data", "verbagg.csv")
out_path <- file.path(script_dir, "lme4_reference.json")

read_csv <- function(path) {
  if (!file.exists(path)) stop("data file not found: ", path)
  read.csv(path, stringsAsFactors = FALSE)
}

## ------------------------------------------------------- factor handling ----
## Factor columns are converted with exactly the level order of lme4's bundled
## data (this matters: e.g. cbpp$herd and VerbAgg$id are numeric codes whose
## level order is numeric, not alphabetical; VerbAgg$item has a design order).
as_bundled <- function(csv, bundled) {
  stopifnot(identical(names(csv), names(bundled)))
  for (v in names(bundled)) {
    b <- bundled[[v]]
    if (is.factor(b)) {
      x <- as.character(csv[[v]])
      bad <- setdiff(unique(x), levels(b))
      if (length(bad)) stop("column ", v, ": values not among bundled levels: ",
                            paste(head(bad), collapse = ", "))
      csv[[v]] <- factor(x, levels = levels(b), ordered = is.ordered(b))
    } else if (is.integer(b)) {
      csv[[v]] <- as.integer(csv[[v]])
    } else {
      csv[[v]] <- as.numeric(csv[[v]])
    }
  }
  csv
}

data_checks <- list()
check_data <- function(name, csv, bundled) {
  ae <- all.equal(csv, bundled, check.attributes = FALSE, tolerance = 0)
  same_levels <- all(vapply(names(bundled), function(v)
    identical(levels(csv[[v]]), levels(bundled[[v]])), logical(1)))
  ok <- isTRUE(ae) && same_levels && nrow(csv) == nrow(bundled)
  cat(sprintf("data check %-11s: %d rows, identical to lme4 bundled data: %s\n",
              name, nrow(csv), if (ok) "YES" else "NO"))
  if (!isTRUE(ae)) print(ae)
  data_checks[[name]] <<- list(nrow = nrow(csv),
                               matches_lme4_bundled = ok,
                               differences = if (isTRUE(ae)) character(0) else as.character(ae))
  invisible(ok)
}

sleepstudy_d <- as_bundled(read_csv(file.path(data_dir, "sleepstudy.csv")), lme4::sleepstudy)
dyestuff_d   <- as_bundled(read_csv(file.path(data_dir, "dyestuff.csv")),   lme4::Dyestuff)
penicillin_d <- as_bundled(read_csv(file.path(data_dir, "penicillin.csv")), lme4::Penicillin)
pastes_d     <- as_bundled(read_csv(file.path(data_dir, "pastes.csv")),     lme4::Pastes)
cbpp_d       <- as_bundled(read_csv(file.path(data_dir, "cbpp.csv")),       lme4::cbpp)
verbagg_d    <- as_bundled(read_csv(verbagg_path),                          lme4::VerbAgg)

check_data("sleepstudy", sleepstudy_d, lme4::sleepstudy)
check_data("dyestuff",   dyestuff_d,   lme4::Dyestuff)
check_data("penicillin", penicillin_d, lme4::Penicillin)
check_data("pastes",     pastes_d,     lme4::Pastes)
check_data("cbpp",       cbpp_d,       lme4::cbpp)
check_data("verbagg",    verbagg_d,    lme4::VerbAgg)

## ------------------------------------------------------------ extractors ----
versions <- list(lme4 = as.character(packageVersion("lme4")),
                 Matrix = as.character(packageVersion("Matrix")),
                 R = R.version.string)

na_null <- function(x) if (is.na(x)) NA else x   # NA -> JSON null

df_to_nested <- function(df) {
  ## data.frame with level rownames and term columns -> {level: {term: value}}
  out <- lapply(seq_len(nrow(df)), function(i) {
    r <- as.list(as.numeric(df[i, , drop = TRUE]))
    names(r) <- colnames(df)
    r
  })
  names(out) <- rownames(df)
  out
}

extract <- function(fit, formula_str, extra = list()) {
  is_lmm <- isLMM(fit)
  cf <- summary(fit)$coefficients
  fixed <- lapply(seq_len(nrow(cf)), function(i)
    list(estimate = unname(cf[i, "Estimate"]),
         std_error = unname(cf[i, "Std. Error"])))
  names(fixed) <- rownames(cf)

  vc <- as.data.frame(VarCorr(fit))
  random <- lapply(seq_len(nrow(vc)), function(i)
    list(group = vc$grp[i],
         var1 = na_null(vc$var1[i]),
         var2 = na_null(vc$var2[i]),
         sdcor = vc$sdcor[i],
         vcov = vc$vcov[i]))

  re <- ranef(fit)
  co <- coef(fit)
  ng <- ngrps(fit)
  ll <- logLik(fit)

  res <- list(
    formula = formula_str,
    family = if (is_lmm) "gaussian" else family(fit)$family,
    link = if (is_lmm) "identity" else family(fit)$link,
    method = if (is_lmm) (if (isREML(fit)) "REML" else "ML") else
      (if (fit@devcomp$dims[["nAGQ"]] == 1L) "Laplace" else "AGQ"),
    lme4_version = versions$lme4,
    R_version = versions$R,
    fixed = fixed,
    random = random,
    sigma = if (is_lmm) sigma(fit) else NA,
    logLik = as.numeric(ll),
    logLik_df = attr(ll, "df"),
    nobs = nobs(fit),
    ngrps = as.list(ng),
    theta = as.list(getME(fit, "theta")),
    ranef = lapply(re, function(d) df_to_nested(as.data.frame(d))),
    coef = lapply(co, function(d) df_to_nested(as.data.frame(d))),
    optimizer = fit@optinfo$optimizer,
    convergence_messages = as.character(unlist(fit@optinfo$conv$lme4$messages))
  )
  if (is_lmm) {
    res$REMLcrit_or_deviance <- if (isREML(fit)) unname(REMLcrit(fit)) else deviance(fit)
  } else {
    res$nAGQ <- fit@devcomp$dims[["nAGQ"]]
    res$deviance <- deviance(fit)
  }
  if (is.null(res$sigma) || is.na(res$sigma)) res$sigma <- NULL
  c(res, extra)
}

## ---------------------------------------------------------------- models ----
models <- list()

cat("fitting sleepstudy_corr ...\n")
f <- lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy_d)
ll <- coef(lmList(Reaction ~ Days | Subject, data = sleepstudy_d))
lmlist <- lapply(seq_len(nrow(ll)), function(i)
  list(intercept = ll[i, "(Intercept)"], slope = ll[i, "Days"]))
names(lmlist) <- rownames(ll)
models$sleepstudy_corr <- extract(f, "Reaction ~ Days + (Days | Subject)",
                                  list(lmlist = lmlist))

cat("fitting sleepstudy_uncorr ...\n")
f <- lmer(Reaction ~ Days + (Days || Subject), data = sleepstudy_d)
models$sleepstudy_uncorr <- extract(
  f, "Reaction ~ Days + (Days || Subject)",
  list(note = paste("(Days || Subject) expands to (1 | Subject) + (0 + Days | Subject);",
                    "lme4 names the second grouping 'Subject.1' in VarCorr/random,",
                    "while ranef/coef/ngrps combine both terms under 'Subject'.")))

cat("fitting dyestuff ...\n")
f <- lmer(Yield ~ 1 + (1 | Batch), data = dyestuff_d)
models$dyestuff <- extract(f, "Yield ~ 1 + (1 | Batch)")

cat("fitting penicillin ...\n")
f <- lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = penicillin_d)
models$penicillin <- extract(f, "diameter ~ 1 + (1 | plate) + (1 | sample)")

cat("fitting pastes ...\n")
f <- lmer(strength ~ 1 + (1 | batch/cask), data = pastes_d)
models$pastes <- extract(
  f, "strength ~ 1 + (1 | batch/cask)",
  list(note = paste("(1 | batch/cask) == (1 | batch) + (1 | batch:cask);",
                    "lme4 names the nested grouping factor 'cask:batch',",
                    "with levels like 'a:A' (cask:batch).")))

cat("fitting cbpp ...\n")
f <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd),
           family = binomial, data = cbpp_d)
models$cbpp <- extract(f, "cbind(incidence, size - incidence) ~ period + (1 | herd)")

cat("fitting verbagg (may take a minute) ...\n")
t0 <- proc.time()[["elapsed"]]
f <- glmer(r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item),
           family = binomial, data = verbagg_d,
           control = glmerControl(optimizer = "bobyqa"), nAGQ = 1)
cat(sprintf("  verbagg fit took %.1f s\n", proc.time()[["elapsed"]] - t0))
models$verbagg <- extract(
  f, "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
  list(control = "glmerControl(optimizer = \"bobyqa\")",
       note = "nAGQ = 1 (Laplace approximation), optimizer bobyqa; response r2 (levels N, Y): models P(r2 == 'Y')."))

## ----------------------------------------------------------------- write ----
out <- list(
  generated_by = "tests/reference/lme4_reference.R",
  versions = versions,
  data_checks = data_checks,
  models = models
)
write_json(out, out_path, digits = NA, auto_unbox = TRUE, pretty = TRUE,
           na = "null", null = "null")
cat("wrote", normalizePath(out_path), "\n")

## ---------------------------------------------------------------- summary ---
for (m in names(models)) {
  cat("\n==", m, "(", models[[m]]$method, ")\n")
  for (t in names(models[[m]]$fixed))
    cat(sprintf("  fixed %-14s % .6f  (se %.6f)\n", t,
                models[[m]]$fixed[[t]]$estimate, models[[m]]$fixed[[t]]$std_error))
  for (r in models[[m]]$random)
    cat(sprintf("  sdcor %-10s %-12s %-6s % .6f\n", r$group,
                ifelse(is.na(r$var1), "-", r$var1), ifelse(is.na(r$var2), "-", r$var2), r$sdcor))
  cat(sprintf("  logLik %.6f  nobs %d\n", models[[m]]$logLik, models[[m]]$nobs))
}
