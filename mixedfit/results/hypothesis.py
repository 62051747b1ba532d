"""Hypotheses on the fixed effects and family parameters, as brms' ``hypothesis()``.

A hypothesis is written as text, ``"Days > 5"``, ``"livch[2] - livch[1] = 0"``,
``"(period[2] + period[3]) / 2 > period[4]"``, with the coefficient labels exactly as
in ``res.fixed_effects.index`` and the family parameters of ``res.family_parameters``
(``sigma``...). The text is never given to ``eval``: the labels are found (longest
first) and replaced by placeholders, and what is left is read by Python's :mod:`ast`
and evaluated by a small evaluator that knows numbers, ``+ - * / **``, unary minus,
parentheses and the functions ``exp``, ``log``, ``sqrt`` and ``abs``.

Each hypothesis ``lhs (op) rhs`` is summarised through the posterior draws of
``lhs - rhs``: its mean, sd and equal-tailed interval, the posterior probability of
a one-sided hypothesis with its evidence ratio (posterior odds), and for a point
hypothesis the Savage-Dickey density ratio, the Bayes factor in favour of the point.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedfit import names as keys
from mixedfit.errors import InputTypeError, OptionError
from mixedfit.families.family import scipy_stats
from mixedfit.priors import Prior
from mixedfit.results.summaries import STAT_COLUMNS, describe

__all__ = ["hypothesis", "HYPOTHESIS_COLUMNS"]

#: Columns of the table :func:`hypothesis` returns.
HYPOTHESIS_COLUMNS = [*STAT_COLUMNS, "p", "evidence_ratio", "star", "note"]

#: Prior draws for the Monte Carlo prior density, and their seed (fixed: the same
#: table every call).
PRIOR_DRAWS = 20_000
PRIOR_SEED = 20_240_611

_FUNCTIONS = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs}
_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
           ast.Div: np.true_divide, ast.Pow: np.power}
_COMPARISONS = {ast.Lt: "<", ast.LtE: "<", ast.Gt: ">", ast.GtE: ">", ast.Eq: "="}
_ALLOWED = "numbers, + - * / **, parentheses, exp(), log(), sqrt() and abs()"


# ----------------------------------------------------------------------- parsing
@dataclass
class _Parsed:
    """A hypothesis read: ``lhs - rhs (op) 0``, placeholders -> parameter names."""

    text: str
    op: str
    lhs: ast.expr
    rhs: ast.expr
    used: dict[str, str]


def _name_pattern(name: str) -> str:
    """A regex for ``name`` as a whole token; spaces in it match any spacing (formulae
    writes ``I(age ** 2)`` where a user may write ``I(age**2)``)."""
    parts = [r"\s*" if ch == " " else re.escape(ch) for ch in name]
    pattern = "".join(parts)
    if re.match(r"[\w.]", name[0]):
        pattern = r"(?<![\w.])" + pattern
    if re.match(r"[\w.]", name[-1]):
        pattern += r"(?![\w.])"
    if name in _FUNCTIONS:  # a column called "log" is not the function log(...)
        pattern += r"(?!\s*\()"
    return pattern


def _restore(text: str, placeholders: Mapping[str, str]) -> str:
    for ph, name in placeholders.items():
        text = text.replace(ph, name)
    return text


def _unknown_name_error(token: str, text: str, available: Sequence[str]) -> OptionError:
    close = difflib.get_close_matches(token, list(available), n=3, cutoff=0.5)
    if not close:  # compared without spaces, case and brackets too
        def bare(s: str) -> str:
            return re.sub(r"[\s\[\]()]", "", s).lower()
        table = {bare(a): a for a in available}
        close = [table[m] for m in difflib.get_close_matches(bare(token), list(table), n=3,
                                                             cutoff=0.5)]
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return OptionError(
        f"The hypothesis {text!r} names {token!r}, which is no parameter of this model.{hint} "
        f"Write the names exactly as in res.fixed_effects.index or "
        f"res.family_parameters.index: {', '.join(available)}.")


def _candidate_tokens(text: str) -> list[str]:
    """Pieces of ``text`` between operators that look like names (for the message of a
    hypothesis Python cannot read)."""
    pieces = re.split(r"\*\*|[+\-*/<>=!]", text)
    out = []
    for piece in pieces:
        piece = piece.strip()
        while piece.startswith("(") and not piece.endswith(")"):
            piece = piece[1:].strip()
        while piece.endswith(")") and piece.count(")") > piece.count("("):
            piece = piece[:-1].strip()
        if piece and re.match(r"[A-Za-z_]", piece):
            out.append(piece)
    return out


def _parse(text: Any, available: Sequence[str], aliases: Mapping[str, str]) -> _Parsed:
    if not isinstance(text, str):
        raise InputTypeError(f"A hypothesis must be a string such as 'Days > 0', got "
                             f"{type(text).__name__}.")
    if not text.strip():
        raise OptionError("A hypothesis is empty; write e.g. 'Days > 0'.")
    known = {**{n: n for n in available}, **aliases}
    prefix = "_mfv"
    while prefix in text:
        prefix += "x"
    ordered = sorted(known, key=len, reverse=True)
    placeholders = {f"{prefix}{i}_": known[n] for i, n in enumerate(ordered)}
    regex = re.compile("|".join(f"(?P<g{i}>{_name_pattern(n)})" for i, n in enumerate(ordered)))

    def replace(match: re.Match[str]) -> str:
        return f"{prefix}{match.lastgroup[1:]}_"  # type: ignore[index]

    work = regex.sub(replace, text) if ordered else text
    # a lone "=" is the point hypothesis of brms; Python reads it as "=="
    work = re.sub(r"(?<![<>=!])=(?!=)", "==", work)
    shown = list(available) + [a for a in aliases if a not in available]
    try:
        tree = ast.parse(work.strip(), mode="eval")
    except SyntaxError as err:
        for token in _candidate_tokens(work):
            if token not in placeholders and not re.fullmatch(r"[A-Za-z_]\w*\s*\(.*", token):
                raise _unknown_name_error(_restore(token, placeholders), text, shown) from None
        raise OptionError(
            f"The hypothesis {text!r} cannot be read ({err.msg}). Write it as "
            f"'left (< or > or =) right' with parameter names, {_ALLOWED}, e.g. "
            f"'Days > 5' or 'Intercept + 2 * Days = 250'.") from None

    comparisons = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    n_ops = sum(len(c.ops) for c in comparisons)
    if n_ops == 0:
        raise OptionError(
            f"The hypothesis {text!r} has no comparison. Write exactly one of <, > or = "
            f"between two expressions, e.g. '{text.strip()} > 0' or '{text.strip()} = 0'.")
    top = tree.body
    if n_ops == 1 and not isinstance(top, ast.Compare):  # "a and b > 0", "lambda: a > 0"
        _check(top, work, text, placeholders, shown, {})
    if n_ops > 1 or not isinstance(top, ast.Compare):
        raise OptionError(
            f"The hypothesis {text!r} has {n_ops} comparisons; each hypothesis takes exactly "
            f"one (<, > or =). Pass several hypotheses as a list, e.g. "
            f"['a > b', 'b > c'] rather than 'a > b > c'.")
    op_type = type(top.ops[0])
    if op_type not in _COMPARISONS:
        sym = {ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
               ast.NotIn: "not in"}.get(op_type, op_type.__name__)
        raise OptionError(f"The hypothesis {text!r} uses {sym!r}; a hypothesis compares with "
                          f"<, > or = (<= and >= are read as < and >).")
    used: dict[str, str] = {}
    for side in (top.left, top.comparators[0]):
        _check(side, work, text, placeholders, shown, used)
    if not used:
        raise OptionError(f"The hypothesis {text!r} names no parameter of the model; write "
                          f"one of: {', '.join(shown)}.")
    return _Parsed(text=text, op=_COMPARISONS[op_type], lhs=top.left,
                   rhs=top.comparators[0], used=used)


def _check(node: ast.AST, work: str, text: str, placeholders: Mapping[str, str],
           available: Sequence[str], used: dict[str, str]) -> None:
    """Refuse any syntax but the arithmetic the evaluator knows; collect the names."""
    def segment(n: ast.AST) -> str:
        return _restore(ast.get_source_segment(work.strip(), n) or ast.unparse(n),
                        placeholders)

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise OptionError(f"The hypothesis {text!r} holds {node.value!r}; only numbers "
                              f"and parameter names may appear ({_ALLOWED}).")
        try:
            float(node.value)
        except OverflowError:
            raise OptionError(f"The hypothesis {text!r} holds a number too large for a "
                              f"float.") from None
        return
    if isinstance(node, ast.Name):
        if node.id in placeholders:
            used[node.id] = placeholders[node.id]
            return
        if node.id in _FUNCTIONS:
            raise OptionError(f"In the hypothesis {text!r}, {node.id} is a function: write "
                              f"{node.id}(...).")
        raise _unknown_name_error(node.id, text, available)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, work, text, placeholders, available, used)
        _check(node.right, work, text, placeholders, available, used)
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        _check(node.operand, work, text, placeholders, available, used)
        return
    if isinstance(node, ast.Call):
        func = node.func.id if isinstance(node.func, ast.Name) else None
        if func in _FUNCTIONS and len(node.args) == 1 and not node.keywords:
            _check(node.args[0], work, text, placeholders, available, used)
            return
        if func in _FUNCTIONS:
            raise OptionError(f"In the hypothesis {text!r}, {func}() takes one argument: "
                              f"{segment(node)!r}.")
        if func is not None and func not in placeholders:
            # a call of anything else: refused (never evaluated), unless it is a name
            # mistyped, like "poly(x, 3)[0]" for "poly(x, 2)[0]"
            close = difflib.get_close_matches(segment(node), list(available), n=1, cutoff=0.8)
            if close:
                raise _unknown_name_error(segment(node), text, available)
            raise OptionError(
                f"The hypothesis {text!r} calls {func}(), which is not allowed: only "
                f"{', '.join(f'{f}()' for f in _FUNCTIONS)} may be called. If "
                f"{segment(node)!r} is meant as a coefficient, use its label exactly as in "
                f"res.fixed_effects.index.")
    if isinstance(node, ast.Subscript | ast.Attribute | ast.Call):
        # what is left of an unknown name with brackets or dots, e.g. "livch[5]"
        raise _unknown_name_error(segment(node), text, available)
    raise OptionError(
        f"The hypothesis {text!r} uses {segment(node)!r}, which is not allowed: a hypothesis "
        f"may hold parameter names, {_ALLOWED}.")


def _evaluate(node: ast.AST, env: Mapping[str, Any]) -> Any:
    """The value of a checked expression, with ``env`` placeholder -> array."""
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, env), _evaluate(node.right, env))
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, env)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Call):
        return _FUNCTIONS[node.func.id](_evaluate(node.args[0], env))  # type: ignore[attr-defined]
    raise AssertionError(f"unchecked node {ast.dump(node)}")  # pragma: no cover


def _difference(parsed: _Parsed, env: Mapping[str, Any], size: int) -> np.ndarray:
    """``lhs - rhs`` at every point of ``env`` (``size`` points)."""
    with np.errstate(all="ignore"):
        value = _evaluate(parsed.lhs, env) - _evaluate(parsed.rhs, env)
    return np.broadcast_to(np.asarray(value, dtype=float), (size,)).copy()


# ------------------------------------------------------------------- parameters
def _parameters(res: Any) -> list[str]:
    """Names a hypothesis may use: ``res.fixed_effects.index`` (an ordinal model's
    thresholds, then the fixed-effect columns) and ``res.family_parameters.index``."""
    family, design = res.family, res.design
    own = [p for p in family.distribution_parameters if p not in design.dpar_formulas]
    return list(dict.fromkeys([*family.intercepts, *design.fixed_columns, *own]))


def _parameter_draws(res: Any, name: str) -> np.ndarray:
    cols = list(res.design.fixed_columns)
    if name in cols:
        return np.asarray(res.draws(keys.FIXED), dtype=float)[:, cols.index(name)]
    draws = np.asarray(res.draws(name), dtype=float)
    return draws.reshape(draws.shape[0])


# ---------------------------------------------------------------- prior densities
def _scipy_prior(prior: Prior) -> Any:
    """The scipy distribution of a prior on a coefficient, or None."""
    v = prior.values
    make = {
        "Normal": lambda: scipy_stats().norm(v["mu"], v["sigma"]),
        "StudentT": lambda: scipy_stats().t(v["nu"], v["mu"], v["sigma"]),
        "Cauchy": lambda: scipy_stats().cauchy(v["alpha"], v["beta"]),
        "Laplace": lambda: scipy_stats().laplace(v["mu"], v["b"]),
        "Uniform": lambda: scipy_stats().uniform(v["lower"], v["upper"] - v["lower"]),
    }.get(prior.kind.name)
    return None if make is None else make()


def _linear_prior_density(priors: Sequence[Prior], weights: np.ndarray, point: float, *,
                          exact_normal: bool = True, n_draws: int = PRIOR_DRAWS,
                          seed: int = PRIOR_SEED) -> tuple[float, str]:
    """Prior density at ``point`` of ``sum_j weights_j theta_j``, ``theta_j ~ priors[j]``
    independent; ``(nan, reason)`` when it cannot be had.

    Normal terms add up exactly: with Normal priors only, the density is exact. Otherwise
    the density is a Monte Carlo average over ``n_draws`` prior draws of the other terms
    (fixed seed) of the exact density of the rest given them: the Normal part's when
    there is one, else that of the term with the widest spread. Unlike a kernel density
    estimate it is unbiased, needs no bandwidth and stays right for heavy-tailed priors
    (Cauchy, Student-t with few degrees of freedom), and it is exact when a single
    non-Normal term is involved. ``exact_normal=False`` treats Normal terms as any other
    (to check the Monte Carlo path against the exact one).
    """
    weights = np.asarray(weights, dtype=float)
    keep = np.flatnonzero(np.abs(weights) > 1e-12 * max(np.max(np.abs(weights)), 1e-300))
    if keep.size == 0:
        return np.nan, "no Savage-Dickey ratio: lhs - rhs does not depend on the fixed effects"
    normal_mean, normal_var = 0.0, 0.0
    others: list[tuple[float, Any]] = []
    for j in keep:
        prior, w = priors[j], float(weights[j])
        if exact_normal and prior.kind.name == "Normal":
            normal_mean += w * prior.values["mu"]
            normal_var += (w * prior.values["sigma"]) ** 2
            continue
        dist = _scipy_prior(prior)
        if dist is None:
            return np.nan, (f"no Savage-Dickey ratio: mixedfit has no density for the prior "
                            f"{prior!r} of a term of the hypothesis")
        others.append((w, dist))
    normal_sd = float(np.sqrt(normal_var))
    if not others:
        return float(scipy_stats().norm.pdf(point, normal_mean, normal_sd)), ""
    if normal_sd > 0:
        kept, rest = None, others
    else:  # condition on the widest term: its exact density given the others' draws
        spread = [abs(w) * (d.ppf(0.75) - d.ppf(0.25)) for w, d in others]
        k = int(np.argmax(spread))
        kept, rest = others[k], others[:k] + others[k + 1:]
    rng = np.random.default_rng(seed)
    total = np.zeros(n_draws if rest else 1)
    for w, dist in rest:
        total = total + w * dist.rvs(size=n_draws, random_state=rng)
    if kept is None:
        density = scipy_stats().norm.pdf(point - total, normal_mean, normal_sd)
    else:
        w, dist = kept
        density = dist.pdf((point - total) / w) / abs(w)
    return float(np.mean(density)), ""


def _posterior_density(draws: np.ndarray, point: float) -> tuple[float, str]:
    """Gaussian kernel density estimate (Scott's bandwidth) of ``draws`` at ``point``."""
    if np.ptp(draws) == 0:
        return np.nan, ("no Savage-Dickey ratio: lhs - rhs takes one value in every draw, "
                        "so it has no density")
    density = float(scipy_stats().gaussian_kde(draws)(point)[0])
    if not draws.min() <= point <= draws.max():
        return density, ("0 lies outside the posterior draws of lhs - rhs: the posterior "
                         "density there is extrapolated by the kernel estimate, so the ratio "
                         "is rough (more draws help)")
    return density, ""


def _savage_dickey(res: Any, parsed: _Parsed, diff: np.ndarray, *,
                   exact_normal: bool = True) -> tuple[float, str]:
    """Bayes factor of ``lhs - rhs = 0`` against the model: posterior density at 0 over
    prior density at 0, for a linear combination of fixed effects."""
    cols = list(res.design.fixed_columns)
    other = sorted({n for n in parsed.used.values() if n not in cols})
    if other:
        cuts = set(res.family.intercepts)
        what = ", ".join(f"{n} is {'a threshold' if n in cuts else 'a family parameter'}"
                         for n in other)
        return np.nan, (f"no Savage-Dickey ratio: it is computed for linear combinations of "
                        f"fixed-effect coefficients only, and {what}")
    used = {ph: cols.index(name) for ph, name in parsed.used.items()}
    phs = sorted(used)
    m = len(phs)
    # lhs - rhs = c0 + c . beta when linear: read it at 0 and the unit vectors, then check
    # it at random points
    rng = np.random.default_rng(0)
    points = np.vstack([np.zeros(m), np.eye(m), rng.normal(size=(3, m)) * 3.0])
    values = _difference(parsed, {ph: points[:, i] for i, ph in enumerate(phs)},
                         points.shape[0])
    c0, c_used = values[0], values[1:m + 1] - values[0]
    test = points[m + 1:]
    with np.errstate(all="ignore"):
        linear = c0 + test @ c_used
        tol = 1e-9 * (1.0 + abs(c0) + np.abs(test) @ np.abs(c_used))
        ok = np.all(np.isfinite(values)) and np.all(np.abs(values[m + 1:] - linear) <= tol)
    if not ok:
        return np.nan, ("no Savage-Dickey ratio: lhs - rhs is not a linear combination of "
                        "the fixed effects")
    c = np.zeros(len(cols))
    for i, ph in enumerate(phs):
        c[used[ph]] += c_used[i]
    # the priors sit on theta = F beta: c . beta = (c F^-1) . theta
    functional = np.asarray(res.standardization.functional, dtype=float)
    weights = np.linalg.solve(functional.T, c)
    prior_set = res.prior_set
    missing = [col for col in cols if col not in prior_set]
    if missing:
        return np.nan, f"no Savage-Dickey ratio: no prior recorded for {', '.join(missing)}"
    prior_density, why = _linear_prior_density([prior_set[col] for col in cols], weights,
                                               -c0, exact_normal=exact_normal)
    if not np.isfinite(prior_density):
        return np.nan, why
    if prior_density <= 0:
        return np.nan, "no Savage-Dickey ratio: the prior puts no mass near 0"
    post_density, why = _posterior_density(diff, 0.0)
    return post_density / prior_density, why


# ------------------------------------------------------------------------ the table
def hypothesis(res: Any, expression: str | Sequence[str], *,
               alternative_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Test hypotheses on the fixed effects and family parameters (brms' ``hypothesis()``).

    Parameters
    ----------
    res : ResultView
        A fitted model (:func:`mixedfit.fit`'s result).
    expression : str or list of str
        One hypothesis, or several: ``"left op right"`` with exactly one comparison
        ``op``, ``<``, ``>`` or ``=`` (``<=``, ``>=`` and ``==`` are read as ``<``, ``>``
        and ``=``). Both sides may hold the fixed-effect labels exactly as in
        ``res.fixed_effects.index`` (``Intercept``, ``Days``, ``C(YEAR)[96]``,
        ``I(age ** 2)``, ``Days:cohort[B]``...; spaces inside a label may be left out,
        and a label such as ``log(age)`` is the coefficient, not the log of one),
        the family's parameters of ``res.family_parameters.index`` (``sigma``...),
        numbers, ``+ - * / **``, unary minus, parentheses, ``exp``, ``log``, ``sqrt`` and
        ``abs``. Nothing else is evaluated: the text is read with :mod:`ast`, never by
        ``eval``.
    alternative_names : dict, optional
        Short names to use in the expressions for parameters, ``{short: label}``, e.g.
        ``{"age2": "I(age ** 2)"}``.

    Returns
    -------
    pandas.DataFrame
        One row per hypothesis, indexed by its text as written, with the posterior of
        ``lhs - rhs``: ``mean``, ``sd``, ``lower`` and ``upper`` (equal-tailed interval of
        mass ``res.interval``, as every table); ``p``, the posterior probability of a
        one-sided hypothesis (the share of draws with ``lhs - rhs > 0`` for ``>``,
        ``< 0`` for ``<``; NaN for ``=``); ``evidence_ratio``; ``star``; and ``note``
        (why an evidence ratio is missing or unreliable, empty otherwise).
        ``attrs["interval"]`` holds the interval mass.

    Raises
    ------
    OptionError
        For a name that is no parameter of the model (with the close matches and the
        list of names), no comparison or several, or syntax other than the above.
    InputTypeError
        For a hypothesis that is not a string.

    Notes
    -----
    **Evidence ratio.** For ``>`` (``<``) it is the posterior odds of the hypothesis,
    ``p / (1 - p)``: infinite when every draw satisfies it, as brms. For a point
    hypothesis ``lhs = rhs`` it is the Savage-Dickey density ratio, the Bayes factor of
    the model restricted to the point against the full model: the posterior density of
    ``lhs - rhs`` at 0 over its prior density at 0. It is computed for a linear
    combination of fixed effects ``c . beta``, NaN otherwise (a family parameter, an
    ordinal threshold, a nonlinear expression; the ``note`` says which). The priors
    sit on ``theta = F beta`` (the default intercept prior on the intercept at the
    predictors' means; :attr:`ResultView.standardization`), independently, so
    ``c . beta = (c F^-1) . theta``: with Normal priors on every term involved its
    prior is Normal and its density exact; otherwise the density is a Monte Carlo
    average over 20,000 prior draws with a fixed seed of the exact density of one term
    given the others (unbiased, no bandwidth; exact when one non-Normal term is
    involved). The priors mixedfit accepts are all proper. The posterior density at 0
    is a Gaussian kernel density estimate of the draws (brms uses a logspline fit),
    so it carries a few per cent of error with a few thousand draws, and it is an
    extrapolation when 0 lies outside the draws (``note``). A Bayes factor depends on
    the prior: a wider prior on the terms involved favours the point more, whatever
    the data; report it with the priors (``res.priors``).

    **Star** (brms' rule with ``alpha = 1 - res.interval``): for a point hypothesis,
    ``"*"`` when 0 lies outside the equal-tailed interval ``[lower, upper]``; for
    ``>``, when the one-sided interval ``[q(1 - interval), inf)`` of ``lhs - rhs``
    excludes 0, i.e. its ``1 - interval`` quantile is above 0 (about ``p > interval``);
    for ``<``, when its ``interval`` quantile is below 0. The ``lower`` and ``upper``
    columns stay the equal-tailed interval whatever the direction (brms shows the
    one-sided one).

    Examples
    --------
    >>> res = _example_result()
    >>> h = hypothesis(res, ["Days > 5", "Intercept + 2 * Days = 250", "sigma < 30"])
    >>> h.index.tolist()
    ['Days > 5', 'Intercept + 2 * Days = 250', 'sigma < 30']
    >>> h.columns.tolist()
    ['mean', 'sd', 'lower', 'upper', 'p', 'evidence_ratio', 'star', 'note']
    >>> bool(h.loc["Days > 5", "p"] > 0.99), h.loc["Days > 5", "star"]
    (True, '*')
    >>> bool(h.loc["Intercept + 2 * Days = 250", "evidence_ratio"] > 0)
    True
    """
    return _hypothesis(res, expression, alternative_names=alternative_names)


def _hypothesis(res: Any, expression: str | Sequence[str], *,
                alternative_names: Mapping[str, str] | None = None,
                exact_normal: bool = True) -> pd.DataFrame:
    if isinstance(expression, str):
        texts = [expression]
    elif isinstance(expression, Iterable) and not isinstance(expression, bytes | Mapping):
        texts = list(expression)
    else:
        raise InputTypeError(f"expression must be a string or a list of strings, got "
                             f"{type(expression).__name__}.")
    if len(texts) == 0:
        raise OptionError("expression is an empty list; give at least one hypothesis, e.g. "
                          "'Days > 0'.")
    available = _parameters(res)
    aliases = _aliases(alternative_names, available)
    parsed = [_parse(t, available, aliases) for t in texts]  # every text checked first
    interval = float(res.interval)
    rows = []
    cache: dict[str, np.ndarray] = {}
    for h in parsed:
        env = {}
        for ph, name in h.used.items():
            if name not in cache:
                cache[name] = _parameter_draws(res, name)
            env[ph] = cache[name]
        n = next(iter(env.values())).shape[0]
        diff = _difference(h, env, n)
        rows.append(_row(res, h, diff, interval, exact_normal=exact_normal))
    df = pd.DataFrame(rows, index=pd.Index([h.text for h in parsed], name="hypothesis"),
                      columns=HYPOTHESIS_COLUMNS)
    df.attrs["interval"] = interval
    return df


def _aliases(alternative_names: Mapping[str, str] | None, available: Sequence[str]
             ) -> dict[str, str]:
    if alternative_names is None:
        return {}
    if not isinstance(alternative_names, Mapping):
        raise InputTypeError(f"alternative_names must be a dict of short name -> parameter "
                             f"label, e.g. {{'age2': 'I(age ** 2)'}}; got "
                             f"{type(alternative_names).__name__}.")
    out = {}
    for short, label in alternative_names.items():
        if not isinstance(short, str) or not re.fullmatch(r"[A-Za-z_][\w.]*", short) \
                or short.startswith("__"):
            raise OptionError(f"alternative_names: {short!r} is not usable as a short name; "
                              f"use letters, digits and underscores, e.g. 'age2'.")
        if short in available:
            raise OptionError(f"alternative_names: {short!r} is already a parameter of this "
                              f"model; choose another short name.")
        if label not in available:
            close = difflib.get_close_matches(str(label), list(available), n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise OptionError(f"alternative_names: {label!r} (for {short!r}) is no parameter "
                              f"of this model.{hint} Parameters: {', '.join(available)}.")
        out[short] = label
    return out


def _row(res: Any, h: _Parsed, diff: np.ndarray, interval: float, *,
         exact_normal: bool) -> dict[str, Any]:
    finite = np.isfinite(diff)
    notes = []
    if not finite.all():
        notes.append(f"{int((~finite).sum())} of {diff.size} draws of lhs - rhs are not "
                     f"finite and were left out")
        diff = diff[finite]
    if diff.size == 0:
        return {**dict.fromkeys(STAT_COLUMNS, np.nan), "p": np.nan,
                "evidence_ratio": np.nan, "star": "", "note": notes[0]}
    stats_ = {k: float(v) for k, v in describe(diff, interval).items()}
    if h.op == "=":
        p = np.nan
        ratio, why = _savage_dickey(res, h, diff, exact_normal=exact_normal)
        star = not (stats_["lower"] <= 0.0 <= stats_["upper"])
        if why:
            notes.append(why)
    else:
        hits = int(np.sum(diff > 0) if h.op == ">" else np.sum(diff < 0))
        p = hits / diff.size
        ratio = np.inf if hits == diff.size else hits / (diff.size - hits)
        if h.op == ">":
            star = float(np.quantile(diff, 1.0 - interval)) > 0.0
        else:
            star = float(np.quantile(diff, interval)) < 0.0
    return {**stats_, "p": p, "evidence_ratio": ratio, "star": "*" if star else "",
            "note": "; ".join(notes)}
