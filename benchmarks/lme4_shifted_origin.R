# lme4 on sleepstudy with Days moved to a calendar-year origin (issue 12, docs/coming-from.md).
# Rscript benchmarks/lme4_shifted_origin.R   (R 4.2.2, lme4 1.1.31 from Debian's packages)
# Output on 2026-11-29: boundary (singular) fit; Subject sd(Intercept) 30.96, sd(Days) 0.0037,
# Corr 0.982, Residual 30.90 (the unshifted fit: 24.74, 5.92, 0.066, 25.59).
library(lme4)
data(sleepstudy)
shifted <- transform(sleepstudy, Days = Days + 2000)
m <- lmer(Reaction ~ Days + (Days | Subject), shifted)
print(VarCorr(m))
print(isSingular(m))
print(VarCorr(lmer(Reaction ~ Days + (Days | Subject), sleepstudy)))
