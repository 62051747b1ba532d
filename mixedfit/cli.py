"""The ``mixedfit`` command line: fit a model, list the bundled data, show a saved fit.

::

    mixedfit fit "Reaction ~ Days + (Days | Subject)" --data sleepstudy
    mixedfit fit "y ~ x + (1 | g)" --data mydata.csv --format json --output fit.nc
    mixedfit datasets
    mixedfit show fit.nc --format csv
    mixedfit means fit.nc period
    mixedfit contrasts fit.nc period --scale response

``python -m mixedfit`` is the same program. Every error mixedfit reports on purpose
(a formula it cannot read, a missing file or column, a bad option) is printed as one
paragraph on stderr, with exit status 2; results go to stdout, progress and warnings
to stderr.

Examples
--------
>>> from mixedfit.cli import main
>>> main(["datasets", "--format", "csv"])  # doctest: +ELLIPSIS
name,description,model
sleepstudy,Reaction times (ms) of 18 subjects over 10 days of sleep deprivation (lme4),...
0
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from mixedfit._version import __version__
from mixedfit.api import fit, load
from mixedfit.datasets import DATASETS, list_datasets, load_dataset
from mixedfit.errors import MixedFitError, OptionError
from mixedfit.families import get_family
from mixedfit.results.effects import CONTRAST_METHODS, SCALES
from mixedfit.results.grid import WEIGHTS
from mixedfit.results.tidy import result_tables

__all__ = ["main", "build_parser", "read_data", "CLIError"]

#: The family parameters that take a formula (``--sigma '~ x'``...), as :func:`fit`'s.
DPAR_OPTIONS = ("sigma", "nu", "alpha", "kappa", "zi", "hu")
#: Output formats of ``fit`` and ``show``.
FORMATS = ("text", "json", "csv")
#: File suffixes read as CSV and as Parquet.
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")


class CLIError(MixedFitError):
    """A problem with the command line's input (a file that cannot be read...)."""


def read_data(source: str) -> Any:
    """Read ``--data``: a CSV or Parquet file, or the name of a bundled data set.

    Parameters
    ----------
    source : str
        A path ending in ``.csv``, ``.tsv``, ``.txt`` (tab-separated for ``.tsv``),
        ``.parquet`` or ``.pq``; or a bundled data set name (``mixedfit datasets``).
        An existing file wins over a bundled name.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    CLIError
        If the file does not exist or cannot be read.

    Examples
    --------
    >>> read_data("dyestuff").shape
    (30, 2)
    """
    path = Path(source)
    if path.is_file():
        suffix = path.suffix.lower()
        try:
            if suffix in PARQUET_SUFFIXES:
                return pd.read_parquet(path)
            if suffix in CSV_SUFFIXES or suffix == "":
                return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        except ImportError as err:
            raise CLIError(f"Reading {source!r} needs an optional package: {err}.") from err
        except (OSError, ValueError, UnicodeDecodeError) as err:
            raise CLIError(f"Could not read the data file {source!r}: {err}") from err
        raise CLIError(f"Unknown data file type {path.suffix!r} of {source!r}: give a .csv, "
                       f".tsv or .parquet file.")
    if source.lower() in DATASETS:
        return load_dataset(source)
    if path.suffix or "/" in source or "\\" in source:
        raise CLIError(f"The data file {source!r} does not exist.")
    raise CLIError(f"{source!r} is neither a data file nor a bundled data set; bundled: "
                   f"{', '.join(sorted(DATASETS))} (see 'mixedfit datasets').")


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text: the summary report; json: every table as one JSON document; "
                        "csv: the tidy table (one row per parameter). Default: text")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mixedfit`` command."""
    parser = argparse.ArgumentParser(
        prog="mixedfit",
        description="Bayesian mixed-effects models with lme4 formulas (PyMC + nutpie NUTS).",
        epilog="Example: mixedfit fit 'Reaction ~ Days + (Days | Subject)' --data sleepstudy")
    parser.add_argument("--version", action="version", version=f"mixedfit {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="show the Python traceback of an error (for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("fit", help="fit a model and print its summary",
                       description="Fit a mixed model and print the result to stdout.")
    p.add_argument("formula", metavar="FORMULA",
                   help="lme4 formula, e.g. 'Reaction ~ Days + (Days | Subject)' (quote it)")
    p.add_argument("--data", required=True, metavar="FILE_OR_NAME",
                   help="a .csv or .parquet file, or a bundled data set name")
    p.add_argument("--family", default="gaussian",
                   help="response family (gaussian, binomial, poisson, ...); a link as "
                        "'binomial:probit'. Default: gaussian")
    p.add_argument("--categories", metavar="A,B,...",
                   help="cumulative (ordinal): the response's categories, lowest first, "
                        "comma-separated (needed when they are text; numbers are ordered); "
                        "categorical: the categories, the reference first")
    for par in DPAR_OPTIONS:
        p.add_argument(f"--{par}", metavar="FORMULA",
                       help=f"a one-sided formula for the family parameter {par}, e.g. "
                            f"'~ x + (1 | g)' (brms' {par} ~ ..., glmmTMB's "
                            f"{'ziformula' if par in ('zi', 'hu') else 'dispformula'})")
    p.add_argument("--trials", metavar="COLUMN",
                   help="binomial only: the column with each row's number of trials")
    p.add_argument("--se", metavar="COLUMN",
                   help="gaussian only: the column of each row's known standard error "
                        "(a meta-analysis); no residual sd is estimated")
    p.add_argument("--weights", metavar="COLUMN",
                   help="the column of observation weights, as lme4's weights: precision "
                        "weights (gaussian), trials (binomial), prior weights (others)")
    p.add_argument("--draws", type=int, default=1000, help="draws per chain (default 1000)")
    p.add_argument("--tune", type=int, default=None,
                   help="warm-up steps per chain (default 1000; 300 for a near-Gaussian "
                        "posterior, see mixedfit.fit)")
    p.add_argument("--chains", type=int, default=4, help="number of chains (default 4)")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument("--interval", type=float, default=0.94,
                   help="mass of the credible intervals (default 0.94)")
    p.add_argument("--output", "-o", metavar="RESULT",
                   help="also save the result to this NetCDF file (read it with 'show')")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it is shown only when stderr is a terminal)")
    _add_format(p)

    p = sub.add_parser("datasets", help="list the bundled data sets",
                       description="List the data sets bundled with mixedfit.")
    p.add_argument("--format", choices=FORMATS, default="text", help="default: text")

    p = sub.add_parser("show", help="print a saved result",
                       description="Print a result saved with 'fit --output' or res.save().")
    p.add_argument("result", metavar="RESULT", help="a file written by 'fit --output'")
    _add_format(p)

    p = sub.add_parser("means", help="estimated marginal means of a saved fit",
                       description="Estimated marginal means (emmeans) of a saved result: "
                                   "the expected outcome per level of the named factor(s).")
    p.add_argument("result", metavar="RESULT", help="a file written by 'fit --output'")
    p.add_argument("variables", metavar="VARIABLE", nargs="+",
                   help="the factor(s) whose levels are wanted")
    _add_effect_options(p, scale="response")

    p = sub.add_parser("contrasts", help="contrasts between a factor's levels",
                       description="Contrasts among the estimated marginal means of a "
                                   "factor (emmeans' pairs), from a saved result.")
    p.add_argument("result", metavar="RESULT", help="a file written by 'fit --output'")
    p.add_argument("variable", metavar="VARIABLE", help="the factor whose levels are compared")
    p.add_argument("--method", default="pairwise", choices=CONTRAST_METHODS,
                   help="which differences (default pairwise)")
    p.add_argument("--by", action="append", metavar="VARIABLE",
                   help="make the contrasts within each level of this factor (repeatable)")
    _add_effect_options(p, scale="link")

    p = sub.add_parser("slopes", help="slopes of a numeric predictor",
                       description="The slope of the expected outcome in a numeric "
                                   "predictor, averaged over the data (or at --at values).")
    p.add_argument("result", metavar="RESULT", help="a file written by 'fit --output'")
    p.add_argument("variable", metavar="VARIABLE", help="a numeric predictor")
    p.add_argument("--by", action="append", metavar="VARIABLE",
                   help="one slope per level of this factor (repeatable)")
    _add_effect_options(p, scale="response")
    return parser


def _add_effect_options(p: argparse.ArgumentParser, *, scale: str) -> None:
    p.add_argument("--at", action="append", metavar="VARIABLE=V1,V2",
                   help="values of a variable in the reference grid (repeatable); for "
                        "slopes, '--at means' for the grid with every numeric predictor "
                        "at its mean")
    p.add_argument("--scale", choices=SCALES, default=scale,
                   help=f"response or link scale (default {scale})")
    p.add_argument("--weights", choices=WEIGHTS, default="equal",
                   help="how the factors averaged over are weighted (default equal)")
    p.add_argument("--random", choices=("zero", "fitted", "marginal"), default="zero",
                   help="group effects: at zero (default), the fitted levels', or averaged "
                        "over their population")
    p.add_argument("--format", choices=FORMATS, default="text", help="default: text")


def _family(spec: str) -> Any:
    name, _, link = spec.partition(":")
    return get_family(name, link=link.strip().lower() or None)


def _print_result(res: Any, fmt: str, out: TextIO) -> None:
    if fmt == "text":
        print(res.summary().to_text(), file=out)
    elif fmt == "json":
        json.dump(result_tables(res), out, indent=2, allow_nan=False)
        print(file=out)
    else:
        res.to_frame().to_csv(out, index=False, float_format="%.8g")


def _cmd_fit(args: argparse.Namespace, out: TextIO) -> int:
    data = read_data(args.data)
    family = _family(args.family)
    if args.categories:
        if not family.categorical_response:
            raise OptionError(f"--categories lists the categories of a categorical or ordinal "
                              f"response (--family cumulative or categorical); the "
                              f"{family.name} family has none.")
        family = family.for_levels([c.strip() for c in args.categories.split(",")])
    progress = not args.no_progress and sys.stderr.isatty()
    res = fit(args.formula, data, family=family, draws=args.draws, tune=args.tune,
                 chains=args.chains, random_seed=args.seed, progressbar=progress,
                 interval=args.interval, trials=args.trials, weights=args.weights,
                 se=args.se, **{par: getattr(args, par) for par in DPAR_OPTIONS
                                if getattr(args, par) is not None})
    if args.output:
        res.save(args.output)
        print(f"mixedfit: saved the result to {args.output}", file=sys.stderr)
    _print_result(res, args.format, out)
    return 0


def _cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    _print_result(load(args.result), args.format, out)
    return 0


#: How each --random choice is described in a table's title.
RANDOM_TEXT = {"zero": "at zero", "fitted": "of the fitted levels",
               "marginal": "averaged over their population"}


def _parse_at(items: Sequence[str] | None) -> dict[str, list[str]] | None:
    if not items:
        return None
    at: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise OptionError(f"--at takes VARIABLE=V1,V2,...; got {item!r}.")
        at[name.strip()] = [v.strip() for v in values.split(",")]
    return at


def _effect_options(args: argparse.Namespace) -> dict[str, Any]:
    random = {"zero": False, "fitted": True, "marginal": "marginal"}[args.random]
    at: Any = _parse_at(args.at)
    if args.command == "slopes" and args.at == ["means"]:
        at = "means"
    return {"at": at, "scale": args.scale, "weights": args.weights,
            "include_random": random}


def _random_text(res: Any, args: argparse.Namespace, named: Sequence[str]) -> str:
    """What the table's group effects are, for its title."""
    groups = [g for g in named if g in {c for b in res.design.blocks for c in b.term.group}]
    if groups and args.random == "zero":
        return f"of the named levels of {', '.join(groups)}, others at zero"
    return RANDOM_TEXT[args.random]


def _print_table(table: pd.DataFrame, title: str, fmt: str, out: TextIO) -> None:
    if fmt == "csv":
        table.to_csv(out, index=False, float_format="%.8g")
    elif fmt == "json":
        json.dump(json.loads(table.to_json(orient="records")), out, indent=2)
        print(file=out)
    else:
        print(title, file=out)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=out)


def _cmd_means(args: argparse.Namespace, out: TextIO) -> int:
    res = load(args.result)
    table = res.means(args.variables, **_effect_options(args))
    named = [*args.variables, *(_parse_at(args.at) or {})]
    title = (f"Estimated marginal means of {', '.join(args.variables)} ({args.scale} scale, "
             f"{res.interval:.0%} intervals; group effects {_random_text(res, args, named)})")
    _print_table(table, title, args.format, out)
    return 0


def _cmd_contrasts(args: argparse.Namespace, out: TextIO) -> int:
    res = load(args.result)
    table = res.contrasts(args.variable, method=args.method, by=args.by,
                          **_effect_options(args))
    estimate = table.attrs["estimate"].replace(".", " ")
    title = (f"Contrasts of {args.variable} ({args.method}, {estimate}s on the "
             f"{args.scale} scale, {res.interval:.0%} intervals; pd: probability of "
             f"direction)")
    _print_table(table, title, args.format, out)
    return 0


def _cmd_slopes(args: argparse.Namespace, out: TextIO) -> int:
    res = load(args.result)
    options = _effect_options(args)
    table = res.slopes(args.variable, by=args.by, **options)
    title = (f"Slope of the expected outcome in {args.variable} ({args.scale} scale, "
             f"{table.attrs['where']}, {res.interval:.0%} intervals)")
    _print_table(table, title, args.format, out)
    return 0


def _cmd_datasets(args: argparse.Namespace, out: TextIO) -> int:
    table = list_datasets()
    if args.format == "csv":
        table.to_csv(out)
    elif args.format == "json":
        json.dump(json.loads(table.reset_index().to_json(orient="records")), out, indent=2)
        print(file=out)
    else:
        for name, row in table.iterrows():
            print(f"{name:<11} {row['description']}", file=out)
            print(f"{'':<11} model: {row['model']}", file=out)
    return 0


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    print(f"mixedfit: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 for a usage or input error).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).
    stdout : file, optional
        Where results go (default: ``sys.stdout``).
    """
    out = stdout if stdout is not None else sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or argparse's own usage error
        return int(exit_.code or 0)
    commands = {"fit": _cmd_fit, "show": _cmd_show, "datasets": _cmd_datasets,
                "means": _cmd_means, "contrasts": _cmd_contrasts, "slopes": _cmd_slopes}
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return commands[args.command](args, out)
        except MixedFitError as err:
            if args.traceback:
                raise
            print(f"mixedfit: error: {str(err).rstrip()}", file=sys.stderr)
            return 2
        except (TypeError, ValueError, KeyError, ArithmeticError) as err:
            # e.g. a formula function applied to a column it cannot take: log(factor)
            if args.traceback:
                raise
            print(f"mixedfit: error: the model could not be built or fitted: "
                  f"{type(err).__name__}: {err}. (Run with --traceback for details.)",
                  file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("mixedfit: interrupted", file=sys.stderr)
            return 130
