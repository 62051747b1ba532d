"""The columns a formula expression refers to."""

from __future__ import annotations

from mixedfit.formula.parser import (
    Binary,
    Call,
    Group,
    ListExpr,
    Name,
    Node,
    Random,
    Unary,
    parse_expression,
)

__all__ = ["collect_variables", "expression_variables"]


def collect_variables(node: Node) -> set[str]:
    """Column names referenced by ``node``.

    Function names, keyword-argument names, string contents, contrast names inside
    ``C(...)`` and the constants True/False/None are not variables.

    Examples
    --------
    >>> sorted(collect_variables(parse_expression('C(g, Treatment("a")):log(x + z)')))
    ['g', 'x', 'z']
    """
    if isinstance(node, Name):
        return set() if node.is_constant else {node.name}
    if isinstance(node, Call):
        args = node.args[:1] if node.func in ("C", "factor") else node.args
        found: set[str] = set()
        for arg in args:
            found |= collect_variables(arg)
        return found
    if isinstance(node, Binary):
        return collect_variables(node.left) | collect_variables(node.right)
    if isinstance(node, Unary):
        return collect_variables(node.operand)
    if isinstance(node, Group):
        return collect_variables(node.inner)
    if isinstance(node, Random):
        return collect_variables(node.lhs) | collect_variables(node.rhs)
    if isinstance(node, ListExpr):
        found = set()
        for item in node.items:
            found |= collect_variables(item)
        return found
    return set()


def expression_variables(text: str) -> set[str]:
    """Column names referenced by the canonical term ``text``.

    Examples
    --------
    >>> sorted(expression_variables("cbind(incidence,size-incidence)"))
    ['incidence', 'size']
    """
    return collect_variables(parse_expression(text))
