"""The layout of the compiled model's buffer: defined here once.

:mod:`mixedfit.fast.layout` writes a model into a flat float64 buffer, and the
compiled densities (:mod:`mixedfit.fast.kernel`, :mod:`mixedfit.fast.marginal`) and
nutpie's callbacks (:mod:`mixedfit.fast.callbacks`) read it; all of them take the
slots below from this module (numba compiles them in as constants).

The buffer starts with a header of :data:`HEADER` slots (lengths, and the offsets of
the parts that follow, -1 where a part is absent), then one descriptor of
:data:`BLOCK_WIDTH` slots per block of group effects, then the parts: priors
(:data:`PRIOR_WIDTH` slots each), the fixed-effect priors' map, the data (rows,
sufficient statistics or a marginal model's statistics) and the packing of stored
draws.
"""

from __future__ import annotations

__all__ = ["HEADER", "BLOCK_WIDTH", "PRIOR_WIDTH"]

# --------------------------------------------------------------------------- header
#: total length of the buffer
H_LEN = 0
#: rows in the data part (0 with sufficient statistics)
H_NROWS = 1
#: fixed effects
H_P = 2
#: the kernel's family code (see "families" below)
H_FAMILY = 3
#: blocks of group effects
H_NBLOCKS = 4
#: 1 when the joint model uses sufficient statistics
H_SS = 5
#: dimension of the sampler's space
H_DIM = 6
#: offsets of the rows' X (stored by column: p x n), y, trials and offset (-1: absent)
H_X, H_Y, H_TRIALS, H_OFFSET = 7, 8, 9, 10
#: offsets of the fixed effects' priors and of the family parameters' priors
H_BETA_PRIOR, H_FAM_PRIOR = 11, 12
#: offset of the first block descriptor
H_BLOCKS = 13
#: offset of the joint model's sufficient statistics (-1: rows)
H_SSDATA = 14
#: observations
H_NOBS = 15
#: position of the family's first parameter (log sigma, log alpha...) in the parameter
#: vector, or -1; its parameters follow one another, their priors start at H_FAM_PRIOR
H_FAM_POS = 16
#: offset of the packing of stored draws (-1: stored as they are)
H_PACK = 17
#: offset of a marginal model's statistics (-1: a joint model)
H_MARG = 18
#: offset of the p x p map of the fixed effects' priors
H_BETA_MAP = 19
#: the kernel's link code (see "links" below)
H_LINK = 20
#: the family's own parameters (0, 1 or 2)
H_NFAM = 21
#: offset of the rows' prior weights (-1: none; precision weights of the Gaussian are
#: folded into its rows, see mixedfit.fast.layout)
H_WEIGHTS = 22
#: the Gaussian's sigma in the internal units when it is known (se=, no sigma parameter:
#: H_FAM_POS is -1), else 0
H_FIXED_SIGMA = 23
#: offset of one code per family parameter: how the sampler moves it (PARAM_* below)
H_FAM_KIND = 24
#: offset of the linear predictor of each fixed column (0: the mean's; 1 + i: family
#: parameter i's own formula), or -1 when every column is the mean's
H_XPRED = 25
#: offset of the map from the sampler's coordinates to the fixed effects when some of
#: their priors are Uniform (see "the fixed effects' map" below), or -1: the sampler's
#: first p coordinates are the fixed effects themselves
H_FIXED_X = 26
#: offset of the reflected groups of nested effects (see "reflected groups" below), or -1
H_REFLECT = 27
#: offset of one flag per fixed column (1: folded into a block's effects, see "folded
#: columns" below), or -1: none is
H_FOLDED = 28
#: offset of ``T`` (p x p, by row) when the rows' columns are the centred and scaled
#: ones before the QR step, ``S`` with ``X* = S T`` (mixedfit.standardize), so that the
#: row pass computes ``S (T beta)`` and carries its gradient back by ``T'``; or -1: the
#: columns are ``X*`` (see "folded columns" below)
H_XMAP = 29
#: offset of the negative binomial's count table (see "the negative binomial's counts"
#: below), or -1: none (a largest count too large for it; the kernel takes the general pass)
H_NB_COUNTS = 30
HEADER = 31

# ------------------------------------------------------------ family parameters' kinds
#: a positive parameter (its log), a probability (its logit), a real number (itself), a
#: number above the parameter before it (the log of the difference: ordered thresholds);
#: a parameter with its own formula (no slot in the parameter vector: its linear
#: predictor, 1 + its index, is its log, its logit, or itself: a categorical response's
#: log odds)
(PARAM_POSITIVE, PARAM_UNIT, PARAM_REAL, PARAM_INCREMENT, PARAM_LINKED_LOG, PARAM_LINKED_LOGIT,
 PARAM_LINKED_IDENTITY) = range(7)
#: the kernel's code of each kind (:meth:`mixedfit.families.Family.parameter_transform`)
PARAM_KINDS = {"positive": PARAM_POSITIVE, "unit": PARAM_UNIT, "real": PARAM_REAL,
               "increment": PARAM_INCREMENT}

# ------------------------------------------------------------------ block descriptor
#: terms, levels, correlated (1/0), centred (1/0)
B_Q, B_M, B_CORR, B_CENTRED = 0, 1, 2, 3
#: offsets of the block's Z (by column: q x n; -1: intercept only) and of its level index
B_Z, B_INDEX = 4, 5
#: offset of the sds' priors; LKJ eta
B_SD_PRIOR, B_ETA = 6, 7
#: positions of the log sds, the correlations and the effects in the parameter vector
B_SD_POS, B_COR_POS, B_EFF_POS = 8, 9, 10
#: offset of the fixed effect each term is centred on (hierarchical centring), or -1
B_MAP = 11
#: the linear predictor the block adds to (0: the mean's; 1 + i: family parameter i's)
B_PRED = 12
#: offset of the block's runs of rows (see "runs" below), or -1: its rows are read one
#: by one through its level index
B_RUNS = 13
#: offset of the fixed columns folded into the block's first term (see "folded
#: columns" below), or -1
B_FOLD = 14
#: 1 when the block's one sd is sampled signed (see "signed sds" below), 0 when its log
#: (or, under a Uniform prior, its interval transform) is
B_SIGNED = 15
BLOCK_WIDTH = 16

# ---------------------------------------------------------------------------- priors
#: a prior's row: code, three parameters, and the factor from the sampler's value to
#: the parameter the prior sits on (see mixedfit.standardize)
PRIOR_WIDTH = 5
#: prior codes (a UNIFORM row holds lower, upper; the parameter under it is moved by an
#: interval transform, never past its bounds: see mixedfit.fast.kernel.bounded)
(NORMAL, HALFNORMAL, HALFSTUDENTT, EXPONENTIAL, HALFCAUCHY, STUDENTT, CAUCHY, GAMMA, INVGAMMA,
 LOGNORMAL, LAPLACE, BETA_PRIOR, UNIFORM) = range(13)

# ------------------------------------------------------------- the fixed effects' map
#: At H_FIXED_X (when some fixed-effect priors are Uniform): ``[u, pivot (u), lower (u),
#: width (u), M (p x p)]``. The sampler's coordinate at ``pivot[j]`` is the logit of
#: where the value under the j-th Uniform prior lies in its interval: that value (less
#: the prior row's shift) is ``lower[j] + width[j] sigmoid(x[pivot[j]])``. With ``y`` the
#: sampler's first p coordinates with those values put at the pivots, the fixed effects
#: are ``beta* = M y`` (see mixedfit.fast.layout.FixedMap).

# ---------------------------------------------------------------- reflected groups
#: At H_REFLECT: ``[n, then n groups of (sd_b, sd_l, signed_b, signed_l, effect_l, k,
#: effect_b (k))]``, the positions in the parameter vector of two non-centred one-term
#: blocks' sds (a factor and the one it is nested in; each its log, or signed where its
#: flag is 1: see "signed sds" below) and of an outer level's standard normal effect
#: with those of the ``k`` inner levels it holds
#: (mixedfit.design.nesting.nested_groups). The sampler's coordinates ``x_0`` (at
#: effect_l) and ``x_1..x_k`` are a reflection of the effects: ``z_l = c x_0 - r S`` and
#: ``z_b,i = x_i - r x_0 - (1 + c) / k S`` with ``S = sum_i x_i`` and ``(c, r) = (sd_b,
#: sd_l) / sqrt(sd_b^2 + k sd_l^2)``, so that ``x_0`` runs along the one direction the
#: data do not see, ``(sd_b, -sd_l, ..., -sd_l)``, and ``x_1..x_k`` span the sums
#: ``sd_l z_l + sd_b z_b,i`` (mixedfit.fast.kernel.logp_grad).

# ------------------------------------------------------------------------ signed sds
#: A non-centred one-term block whose sd has a prior smooth and flat at zero (half-normal,
#: half-Student-t, half-Cauchy) may sample its sd as a signed number ``s``: the sd is
#: ``|s|``, its prior density at ``|s|`` (halved: the same density, spread on both
#: sides; no Jacobian) and the effects ``u = s z``. The model is unchanged (``(s, z)``
#: and ``(-s, -z)`` give the same effects), but an sd near zero is an ordinary point in
#: the middle of ``s``'s range, not the far tail of its log, where chains linger
#: (mixedfit.fast.layout.signed_prior; the posterior reports ``|s|`` and ``sign(s) z``).

# ----------------------------------------------------------------------------- runs
#: At B_RUNS: ``[R, start (R + 1), level (R)]``: rows ``start[k]`` to ``start[k + 1]``
#: (excluded) all belong to level ``level[k]``. The kernel then adds a level's effect
#: to a contiguous slice of rows and sums its gradient over the slice (loops that
#: vectorise), instead of reading and writing through the level index row by row,
#: where rows of one level in a row wait for one another (mixedfit.fast.layout sorts the
#: rows so that blocks have runs: ``row_order``).

# ------------------------------------------------------------------- folded columns
#: At B_FOLD: ``[K, column (K), value (K x levels, by column)]``: fixed columns whose
#: value is the same on every row of each level of the block (the intercept, a
#: group-level predictor), the block's first term being its intercept. The row pass
#: adds ``sum_k value[k, g] beta[k]`` to level g's first effect instead of ``x_k
#: beta_k`` to each row, and sums their gradient over the levels instead of the rows
#: (``sum_g value[k, g] d logp / d u_g``); their flags at H_FOLDED keep them out of the
#: passes over the columns. The QR step makes a column of ``X*`` a combination of
#: columns before it (a group-level predictor, less its projection on the others'),
#: which is constant within no factor's levels; when that loses folds, the rows hold
#: ``S`` and ``T`` (H_XMAP) instead.

# ---------------------------------------------------- the negative binomial's counts
#: Counts below which the negative binomial's ``lgamma(y + alpha) - lgamma(alpha)`` and
#: its derivative come from a table built once per density evaluation
#: (mixedfit.fast.rowlik.nb_table): sums of at most this many terms, whose rounding stays
#: near 1e-13
NB_TABLE_MAX = 256
#: At H_NB_COUNTS: ``[top + 1, S_0, ..., S_top]``, ``S_j`` the rows' (prior) weight with
#: a count above ``j``; the rows' ``lgamma(y + alpha) - lgamma(alpha)`` sum to ``sum_j S_j log(alpha
#: + j)`` (mixedfit.fast.vecrows.negbin_log_rows). Written by mixedfit.fast.layout for a
#: negative binomial with the log link whose largest count is below
#: ``max(NB_TABLE_MAX, 2 rows)``: the table depends on the data only.

# -------------------------------------------------------------------------- families
#: the kernel's likelihoods (:attr:`mixedfit.families.Family.compiled` names them; the
#: family's own parameters in the order of :attr:`~mixedfit.families.Family.parameters`)
(GAUSSIAN, BINOMIAL, POISSON, NEGATIVEBINOMIAL, GAMMA_FAMILY, BETA_FAMILY, STUDENT_T, ZIP, ZINB,
 HURDLE_POISSON, HURDLE_NB, CUMULATIVE, CATEGORICAL) = range(13)
#: the kernel's code of each family's :attr:`~mixedfit.families.Family.compiled` name
FAMILIES = {"gaussian": GAUSSIAN, "binomial": BINOMIAL, "poisson": POISSON,
            "negativebinomial": NEGATIVEBINOMIAL, "gamma": GAMMA_FAMILY, "beta": BETA_FAMILY,
            "t": STUDENT_T, "zero_inflated_poisson": ZIP, "zero_inflated_negativebinomial": ZINB,
            "hurdle_poisson": HURDLE_POISSON, "hurdle_negativebinomial": HURDLE_NB,
            "cumulative": CUMULATIVE, "categorical": CATEGORICAL}

# ----------------------------------------------------------------------------- links
IDENTITY, LOG, INVERSE, LOGIT, PROBIT, CLOGLOG = range(6)
#: the kernel's code of each link (:data:`mixedfit.families.links.LINKS`)
LINKS = {"identity": IDENTITY, "log": LOG, "inverse": INVERSE, "logit": LOGIT,
         "probit": PROBIT, "cloglog": CLOGLOG}
