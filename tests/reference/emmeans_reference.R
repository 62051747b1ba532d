#!/usr/bin/env Rscript
## Reference values for mixedfit's estimated marginal means, contrasts and trends,
## from R's emmeans on lme4 fits (lmer / glmer).
##
## Usage (from the repo root):  Rscript tests/reference/emmeans_reference.R
## Writes tests/reference/emmeans_reference.json next to this script (any working
## directory works). Reads mixedfit/datasets/cbpp.csv, sleepstudy.csv and
## grouseticks.csv and checks them against lme4's bundled copies.
##
## Requires: lme4, emmeans, jsonlite
## (Debian: apt-get install r-base-core r-cran-lme4 r-cran-emmeans r-cran-jsonlite)
## pbkrtest and lmerTest are NOT needed: the lmer model uses
## emm_options(lmer.df = "asymptotic") (z-based, df = Inf, as for glmer), and the
## script checks that neither namespace was loaded.
##
## emmeans 1.8.4's method for consecutive differences is "consec" (consec.emmc);
## method = "consecutive" is an error ("Contrast function 'consecutive.emmc' not found").

suppressPackageStartupMessages({
  library(lme4)
  library(emmeans)
  library(jsonlite)
})

t_start <- proc.time()[["elapsed"]]

script_dir <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
})
datasets_dir <- file.path(script_dir, "..", "..", "mixedfit", "datasets")
out_path <- file.path(script_dir, "emmeans_reference.json")

emm_options(lmer.df = "asymptotic")

## Run an expression, collecting (not suppressing) its warnings and messages so they
## go into the JSON (glmer convergence warnings; emmeans' "involvement in
## interactions" note is a message).
with_conditions <- function(expr) {
  warns <- character(0)
  msgs <- character(0)
  value <- withCallingHandlers(expr,
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    },
    message = function(m) {
      msgs <<- c(msgs, trimws(conditionMessage(m)))
      invokeRestart("muffleMessage")
    })
  if (length(warns)) message("R warnings: ", paste(warns, collapse = " | "))
  list(value = value, warnings = I(warns), messages = I(msgs))
}

## ---------------------------------------------------------------------------
## Data: the bundled CSVs, with lme4's factor level orders, checked against lme4
## ---------------------------------------------------------------------------
## Columns of `csv` (a subset of the bundled data's columns, in any order) are
## converted to the bundled column's type (factors with the bundled levels) and
## compared exactly with the bundled copy.
as_bundled <- function(name, csv, bundled) {
  stopifnot(all(names(csv) %in% names(bundled)), nrow(csv) == nrow(bundled))
  for (v in names(csv)) {
    b <- bundled[[v]]
    if (is.factor(b)) {
      x <- as.character(csv[[v]])
      stopifnot(all(x %in% levels(b)))
      csv[[v]] <- factor(x, levels = levels(b), ordered = is.ordered(b))
    } else {
      csv[[v]] <- as.numeric(csv[[v]])
    }
  }
  ae <- all.equal(csv, bundled[names(csv)], check.attributes = FALSE, tolerance = 0)
  same_levels <- all(vapply(names(csv), function(v)
    identical(levels(csv[[v]]), levels(bundled[[v]])), logical(1)))
  if (!isTRUE(ae)) print(ae)
  stopifnot(isTRUE(ae), same_levels)
  cat(sprintf("data check %-11s: %d rows, columns %s identical to lme4's copy\n",
              name, nrow(csv), paste(names(csv), collapse = ", ")))
  csv
}

read_csv <- function(file) read.csv(file.path(datasets_dir, file), stringsAsFactors = FALSE)

cbpp_d <- as_bundled("cbpp", read_csv("cbpp.csv"), lme4::cbpp)
stopifnot(identical(levels(cbpp_d$period), c("1", "2", "3", "4")))
sleep_d <- as_bundled("sleepstudy", read_csv("sleepstudy.csv"), lme4::sleepstudy)
## grouseticks.csv has INDEX, TICKS, BROOD, HEIGHT, YEAR, LOCATION (not lme4's cHEIGHT)
grouse_d <- as_bundled("grouseticks", read_csv("grouseticks.csv"), lme4::grouseticks)
stopifnot(identical(levels(grouse_d$YEAR), c("95", "96", "97")))

data_checks <- list(
  cbpp = list(nrow = nrow(cbpp_d), columns = names(cbpp_d), matches_lme4_bundled = TRUE),
  sleepstudy = list(nrow = nrow(sleep_d), columns = names(sleep_d), matches_lme4_bundled = TRUE),
  grouseticks = list(nrow = nrow(grouse_d), columns = names(grouse_d), matches_lme4_bundled = TRUE,
                     note = "lme4's cHEIGHT column is not in the CSV (not used here)")
)

## ---------------------------------------------------------------------------
## Tables
## ---------------------------------------------------------------------------
## emmeans / emtrends grid -> {call, type, estimate_column, rows}; each row has the
## grid's factor (or at=) columns, then estimate, se and the 95% asymptotic CI.
emm_table <- function(obj, call, ...) {
  s <- summary(obj, infer = c(TRUE, FALSE), ...)
  est <- attr(s, "estName")
  by_vars <- c(attr(s, "pri.vars"), attr(s, "by.vars"))
  lcl <- intersect(c("asymp.LCL", "lower.CL"), names(s))
  ucl <- intersect(c("asymp.UCL", "upper.CL"), names(s))
  stopifnot(all(is.infinite(s$df)), length(lcl) == 1L, length(ucl) == 1L)
  rows <- lapply(seq_len(nrow(s)), function(i) {
    r <- lapply(by_vars, function(v) {
      x <- s[[v]][i]
      if (is.factor(x)) as.character(x) else x
    })
    names(r) <- by_vars
    c(r, list(estimate = unname(s[[est]][i]), se = unname(s$SE[i]),
              lower_cl = unname(s[[lcl]][i]), upper_cl = unname(s[[ucl]][i])))
  })
  list(call = call, type = if (is.null(attr(s, "type"))) "link" else attr(s, "type"),
       estimate_column = est, rows = rows)
}

## contrasts -> {call, estimate_column, adjust, rows}; each row has emmeans' exact
## contrast label, estimate, se, z ratio and (adjusted) p value. On the response
## scale of a log / logit link the estimate is the ratio / odds ratio and se its
## delta-method standard error; z and p are those of the link scale.
## The "mvt" adjustment (consec's default) is a Monte Carlo integral (mvtnorm), so the
## seed is set for a reproducible file; its p values are good to about 1e-3 only.
contrast_table <- function(obj, call) {
  set.seed(1)
  s <- summary(obj, infer = c(FALSE, TRUE))
  est <- attr(s, "estName")
  stopifnot(all(is.infinite(s$df)))
  rows <- lapply(seq_len(nrow(s)), function(i)
    list(label = as.character(s$contrast[i]), estimate = unname(s[[est]][i]),
         se = unname(s$SE[i]), z_ratio = unname(s$z.ratio[i]), p_value = unname(s$p.value[i])))
  list(call = call, type = if (is.null(attr(s, "type"))) "link" else attr(s, "type"),
       estimate_column = est, adjust = attr(s, "adjust"), rows = rows)
}

## fixed effects as rows {term (R's name), name (mixedfit's), estimate, se}
fixed_rows <- function(fit, names_map) {
  cf <- summary(fit)$coefficients
  stopifnot(identical(sort(rownames(cf)), sort(names(names_map))))
  lapply(seq_len(nrow(cf)), function(i)
    list(term = rownames(cf)[i], name = unname(names_map[rownames(cf)[i]]),
         estimate = unname(cf[i, "Estimate"]), se = unname(cf[i, "Std. Error"])))
}

random_sd <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  lapply(seq_len(nrow(vc)), function(i)
    list(group = vc$grp[i], var1 = if (is.na(vc$var1[i])) NA else vc$var1[i],
         var2 = if (is.na(vc$var2[i])) NA else vc$var2[i], sdcor = vc$sdcor[i]))
}

conv_messages <- function(fit) I(as.character(unlist(fit@optinfo$conv$lme4$messages)))

## ---------------------------------------------------------------------------
## 1. cbpp: binomial GLMM, logit link
## ---------------------------------------------------------------------------
cat("fitting cbpp ...\n")
res <- with_conditions(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd),
                             data = cbpp_d, family = binomial))
fit <- res$value
emm <- emmeans(fit, ~ period)
cbpp_entry <- list(
  call = "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial)",
  method = "Laplace",
  df_method = "asymptotic (z; df = Inf)",
  fixed = fixed_rows(fit, c("(Intercept)" = "Intercept", "period2" = "period[2]",
                            "period3" = "period[3]", "period4" = "period[4]")),
  random = random_sd(fit),
  logLik = as.numeric(logLik(fit)),
  warnings = res$warnings,
  convergence_messages = conv_messages(fit),
  emmeans = emm_table(emm, "emmeans(fit, ~ period)"),
  emmeans_response = emm_table(emmeans(fit, ~ period, type = "response"),
                               "emmeans(fit, ~ period, type = \"response\")"),
  pairs = contrast_table(pairs(emm), "pairs(emmeans(fit, ~ period))"),
  pairs_response = contrast_table(pairs(emm, type = "response"),
                                  "pairs(emmeans(fit, ~ period), type = \"response\")"),
  trt_vs_ctrl = contrast_table(contrast(emm, method = "trt.vs.ctrl"),
                               "contrast(emmeans(fit, ~ period), method = \"trt.vs.ctrl\")"),
  consec = contrast_table(contrast(emm, method = "consec"),
                          "contrast(emmeans(fit, ~ period), method = \"consec\")")
)
## self-checks: the link-scale means are the fixed effects' sums, the response ones plogis
b <- fixef(fit)
stopifnot(
  max(abs(sapply(cbpp_entry$emmeans$rows, `[[`, "estimate") - (b[1] + c(0, b[2:4])))) < 1e-10,
  max(abs(sapply(cbpp_entry$emmeans_response$rows, `[[`, "estimate") -
          plogis(b[1] + c(0, b[2:4])))) < 1e-10,
  max(abs(sapply(cbpp_entry$pairs_response$rows, `[[`, "estimate") -
          exp(sapply(cbpp_entry$pairs$rows, `[[`, "estimate")))) < 1e-10)

## ---------------------------------------------------------------------------
## 2. sleepstudy with a subject-level factor: LMM with a Days x cohort interaction
## ---------------------------------------------------------------------------
cat("fitting sleepstudy_cohort ...\n")
sleep_d$cohort <- factor(ifelse(as.integer(as.character(sleep_d$Subject)) %% 2 == 0,
                                "even", "odd"), levels = c("even", "odd"))
res <- with_conditions(lmer(Reaction ~ Days * cohort + (Days | Subject), data = sleep_d,
                            REML = TRUE))
fit <- res$value
emm_c <- with_conditions(emmeans(fit, ~ cohort))
emm_cd <- emmeans(fit, ~ cohort | Days, at = list(Days = c(0, 9)))
trend <- emtrends(fit, ~ cohort, var = "Days")
days_at <- unique(ref_grid(fit)@grid$Days)
stopifnot(length(days_at) == 1L, abs(days_at - mean(sleep_d$Days)) < 1e-12)
sleep_entry <- list(
  call = "lmer(Reaction ~ Days * cohort + (Days | Subject), data = sleepstudy, REML = TRUE)",
  cohort = "cohort <- factor(ifelse(as.integer(as.character(Subject)) %% 2 == 0, \"even\", \"odd\"), levels = c(\"even\", \"odd\"))",
  cohort_subjects = list(
    even = as.character(sort(unique(sleep_d$Subject[sleep_d$cohort == "even"]))),
    odd = as.character(sort(unique(sleep_d$Subject[sleep_d$cohort == "odd"])))),
  method = "REML",
  df_method = "asymptotic: emm_options(lmer.df = \"asymptotic\") (z; df = Inf)",
  fixed = fixed_rows(fit, c("(Intercept)" = "Intercept", "Days" = "Days",
                            "cohortodd" = "cohort[odd]", "Days:cohortodd" = "Days:cohort[odd]")),
  random = random_sd(fit),
  sigma = sigma(fit),
  logLik = as.numeric(logLik(fit)),
  warnings = res$warnings,
  convergence_messages = conv_messages(fit),
  days_mean = mean(sleep_d$Days),
  days_at = days_at,
  emmeans = emm_table(emm_c$value, "emmeans(fit, ~ cohort)"),
  emmeans_notes = emm_c$messages,
  emmeans_by_days = emm_table(emm_cd, "emmeans(fit, ~ cohort | Days, at = list(Days = c(0, 9)))"),
  pairs = contrast_table(pairs(emm_c$value), "pairs(emmeans(fit, ~ cohort))"),
  emtrends = emm_table(trend, "emtrends(fit, ~ cohort, var = \"Days\")"),
  pairs_emtrends = contrast_table(pairs(trend), "pairs(emtrends(fit, ~ cohort, var = \"Days\"))")
)
b <- fixef(fit)
stopifnot(
  max(abs(sapply(sleep_entry$emmeans$rows, `[[`, "estimate") -
          c(b[1] + days_at * b[2], b[1] + b[3] + days_at * (b[2] + b[4])))) < 1e-8,
  max(abs(sapply(sleep_entry$emtrends$rows, `[[`, "estimate") - c(b[2], b[2] + b[4]))) < 1e-8)

## ---------------------------------------------------------------------------
## 3. grouseticks: Poisson GLMM, log link (rates and rate ratios)
## ---------------------------------------------------------------------------
cat("fitting grouseticks_year ...\n")
res <- with_conditions(glmer(TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION), data = grouse_d,
                             family = poisson))
fit <- res$value
emm <- emmeans(fit, ~ YEAR)
grouse_entry <- list(
  call = "glmer(TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION), data = grouseticks, family = poisson)",
  method = "Laplace",
  df_method = "asymptotic (z; df = Inf)",
  note = "YEAR is a factor (levels 95, 96, 97)",
  fixed = fixed_rows(fit, c("(Intercept)" = "Intercept", "YEAR96" = "YEAR[96]",
                            "YEAR97" = "YEAR[97]")),
  random = random_sd(fit),
  logLik = as.numeric(logLik(fit)),
  warnings = res$warnings,
  convergence_messages = conv_messages(fit),
  emmeans = emm_table(emm, "emmeans(fit, ~ YEAR)"),
  emmeans_response = emm_table(emmeans(fit, ~ YEAR, type = "response"),
                               "emmeans(fit, ~ YEAR, type = \"response\")"),
  pairs = contrast_table(pairs(emm), "pairs(emmeans(fit, ~ YEAR))"),
  pairs_response = contrast_table(pairs(emm, type = "response"),
                                  "pairs(emmeans(fit, ~ YEAR), type = \"response\")")
)
b <- fixef(fit)
stopifnot(
  max(abs(sapply(grouse_entry$emmeans_response$rows, `[[`, "estimate") -
          exp(b[1] + c(0, b[2:3])))) < 1e-10,
  max(abs(sapply(grouse_entry$pairs_response$rows, `[[`, "estimate") -
          exp(sapply(grouse_entry$pairs$rows, `[[`, "estimate")))) < 1e-10)

## ---------------------------------------------------------------------------
## pbkrtest / lmerTest were not used
## ---------------------------------------------------------------------------
df_packages_loaded <- intersect(c("pbkrtest", "lmerTest"), loadedNamespaces())
stopifnot(length(df_packages_loaded) == 0L)

## ----------------------------------------------------------------- write ----
out <- list(
  generated_by = "tests/reference/emmeans_reference.R",
  models = list(cbpp = cbpp_entry, sleepstudy_cohort = sleep_entry,
                grouseticks_year = grouse_entry),
  data_checks = data_checks,
  emm_options = list(lmer.df = "asymptotic"),
  df_packages_loaded = I(df_packages_loaded),
  versions = list(R = R.version.string,
                  lme4 = as.character(packageVersion("lme4")),
                  Matrix = as.character(packageVersion("Matrix")),
                  emmeans = as.character(packageVersion("emmeans")),
                  estimability = as.character(packageVersion("estimability")),
                  jsonlite = as.character(packageVersion("jsonlite")))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null",
                  null = "null"),
           out_path)
cat("wrote", normalizePath(out_path), "\n")

## ---------------------------------------------------------------- summary ---
for (m in names(out$models)) {
  cat("\n==", m, "\n")
  e <- out$models[[m]]
  if (length(e$warnings)) cat("  warnings:", paste(e$warnings, collapse = " | "), "\n")
  for (tab in names(e)) {
    t <- e[[tab]]
    if (!is.list(t) || is.null(t$rows)) next
    cat(sprintf("  %s  [%s]\n", t$call, t$estimate_column))
    for (r in t$rows) {
      keys <- setdiff(names(r), c("estimate", "se", "lower_cl", "upper_cl", "z_ratio", "p_value"))
      lab <- paste(vapply(keys, function(k) paste0(if (k == "label") "" else paste0(k, "="), r[[k]]),
                          character(1)), collapse = ", ")
      cat(sprintf("    %-22s % .6f  (se %.6f)\n", lab, r$estimate, r$se))
    }
  }
}
cat(sprintf("\ntotal time %.1f s\n", proc.time()[["elapsed"]] - t_start))
