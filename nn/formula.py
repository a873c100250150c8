"""Model formulas ("Species ~ .", "y ~ x1 * x2 + C(site)"), parsed by hand into data.

A formula is never evaluated as Python: a hand-written scanner turns the text into tokens, a
small recursive-descent parser turns the tokens into terms, and anything outside the grammar
below is refused with a one-line ValueError naming the offending term. This matters because a
formula arrives from users, from a command line and from model files written by strangers.

Grammar (the right side is a sum of terms; the left side is one column)::

    formula  := column '~' sum
    sum      := ['+' | '-'] item (('+' | '-') item)*     '-' removes the terms of an item
    item     := product ('*' product)*                   a*b = a + b + a:b
    product  := atom (':' atom)*                         a:b = the interaction of a and b
    atom     := column | '.' | '1' | '0' | call | '(' sum ')'
    call     := C(column) | log(column) | exp(column) | sqrt(column)
              | scale(column) | center(column) | poly(column, k)
    column   := name | `backquoted name`

- A name is letters, digits, '_' and '.', not starting with a digit ("Petal.Width"); any
  other column is written in backquotes (`` `petal width (cm)` ``; inside them \\` is a
  backquote and \\\\ a backslash). A name is only ever looked up among the data's columns.
- '.' is every column of the data except the response.
- The intercept is in by default; '0', '+0' or '-1' take it out, '1' or '+1' put it back.
  In a network the intercept is the first layer's bias.
- C(col) encodes a column as categories (text and categorical columns are categories
  already); log, exp and sqrt apply elementwise; scale(col) is (col - mean) / sd (sd with
  n - 1, as R's scale) and center(col) is col - mean, both with the training data's mean and
  sd; poly(col, k) gives the raw powers col, col**2, ..., col**k (1 <= k <= 10; not
  orthogonal polynomials). Transforms take a column, never another call.
- Limits: an interaction joins at most 6 factors, a formula has at most 10,000 terms, and
  parentheses nest at most 32 deep.

Terms are ordered as formulaic and R order them: by degree (main effects, then two-way
interactions, ...), in order of appearance within a degree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Factor", "Formula", "parse_formula", "TRANSFORMS", "MAX_POLY_DEGREE"]

TRANSFORMS = ("C", "log", "exp", "sqrt", "scale", "center", "poly")
MAX_POLY_DEGREE = 10
_MAX_DEPTH = 32  # parentheses: a deeper formula is refused rather than risking recursion
_MAX_TERMS = 10_000  # a*b*c*... doubles the terms per factor
_MAX_FACTORS = 6  # coding an interaction's categorical part costs 2**factors subsets

GRAMMAR = (
    "terms are column names, `backquoted names`, . (all other columns), 1 or 0 (intercept), "
    "a:b and a*b (interactions), C(col), log(col), exp(col), sqrt(col), scale(col), "
    "center(col) and poly(col, k), joined by + and -"
)


@dataclass(frozen=True)
class Factor:
    """One column as the formula uses it: plainly (`transform` ""), or through one of the
    whitelisted transforms ("C", "log", "exp", "sqrt", "scale", "center", "poly"; `degree`
    is poly's k, 0 otherwise)."""

    column: str
    transform: str = ""
    degree: int = 0

    @property
    def name(self) -> str:
        """The factor as design column names show it: `x`, `log(x)`, `poly(x, 2)`."""
        if not self.transform:
            return self.column
        if self.transform == "poly":
            return f"poly({self.column}, {self.degree})"
        return f"{self.transform}({self.column})"


Term = tuple[Factor, ...]


@dataclass(frozen=True)
class Formula:
    """A parsed formula: the response column, the predictor terms (each a tuple of factors,
    ordered by degree; the intercept is not a term) and whether there is an intercept."""

    text: str
    response: str
    terms: tuple[Term, ...]
    intercept: bool

    @property
    def variables(self) -> list[str]:
        """The data columns the predictors read, in order of first use."""
        seen: dict[str, None] = {}
        for term in self.terms:
            for factor in term:
                seen.setdefault(factor.column, None)
        return list(seen)


def show(text: str) -> str:
    """`text` on one line: control characters (newlines, ANSI escapes) written as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# ----------------------------------------------------------------------------- scanner
@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "quoted", "int", or the operator character itself
    text: str  # for a quoted name, the name without quotes and escapes
    start: int
    end: int


_OPERATORS = "~+-*:(),"


def _is_name_char(c: str) -> bool:
    return c.isalnum() or c in "_."


def _tokenize(text: str) -> list[_Token]:
    """The formula's tokens; a character outside the grammar is refused on the spot."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t":
            i += 1
        elif c == "`":
            j, chars = i + 1, []
            while j < n and text[j] != "`":
                if text[j] == "\\" and j + 1 < n and text[j + 1] in "`\\":
                    j += 1
                chars.append(text[j])
                j += 1
            if j >= n:
                raise _refusal(text, i, "a backquoted name has no closing backquote")
            tokens.append(_Token("quoted", "".join(chars), i, j + 1))
            i = j + 1
        elif c.isalpha() or c == "_" or (c == "." and i + 1 < n and
                                         (text[i + 1].isalpha() or text[i + 1] == "_")):
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            tokens.append(_Token("name", text[i:j], i, j))
            i = j
        elif c.isdigit():
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            if not text[i:j].isdigit():
                raise _refusal(text, i)
            tokens.append(_Token("int", text[i:j], i, j))
            i = j
        elif c in _OPERATORS or c == ".":
            tokens.append(_Token(c, c, i, i + 1))
            i += 1
        else:
            raise _refusal(text, i, f"the character {c!r} has no place in a formula; {GRAMMAR}")
    return tokens


def _term_span(text: str, pos: int) -> tuple[int, int]:
    """The top-level term of the raw text around `pos` (between '~' / '+' outside brackets,
    quotes and backquotes), so that an error shows the whole offending term."""
    depth, quote = 0, ""
    cuts = [-1]
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(depth - 1, 0)
        elif c in "~+" and depth == 0:
            cuts.append(i)
    cuts.append(len(text))
    left = max(c for c in cuts if c < pos) if any(c < pos for c in cuts) else -1
    right = min(c for c in cuts if c > pos) if any(c > pos for c in cuts) else len(text)
    return left + 1, right


def _refusal(text: str, pos: int, why: str = GRAMMAR, end: int | None = None) -> ValueError:
    """The one-line error for the term at `pos` (or the span pos..end)."""
    start, stop = _term_span(text, pos) if end is None else (pos, end)
    term = text[start:stop].strip(" \t") or text[pos:pos + 1]
    if len(term) > 120:
        term = term[:117] + "..."
    return ValueError(f"formula '{show(text)}': `{show(term)}` is not allowed: {why}")


# ----------------------------------------------------------------------------- parser
_ONE, _ZERO = "1", "0"  # intercept markers an atom may stand for


class _Parser:
    """Recursive descent over the tokens of the right side; values are ordered lists of
    terms (a term is a tuple of factors, compared as a set)."""

    def __init__(self, text: str, tokens: list[_Token], columns: Sequence[str],
                 response: str) -> None:
        self.text, self.tokens, self.i = text, tokens, 0
        self.columns, self.response = list(columns), response
        self.missing: list[str] = []
        self.depth = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, tok: _Token | None, why: str = GRAMMAR) -> ValueError:
        pos = tok.start if tok is not None else len(self.text) - 1
        return _refusal(self.text, pos, why)

    def column(self, tok: _Token) -> str:
        if tok.text == self.response:
            raise ValueError(
                f"formula '{show(self.text)}': the response {tok.text!r} cannot also be a "
                "predictor"
            )
        if tok.text not in self.columns and tok.text not in self.missing:
            self.missing.append(tok.text)
        return tok.text

    # sum := ['+'|'-'] item (('+'|'-') item)*
    def sum(self, top: bool) -> tuple[list[Term], bool | None]:
        terms: dict[frozenset[Factor], Term] = {}  # an ordered set: a:b is b:a
        intercept: bool | None = None
        first = True
        while True:
            sign = 1
            tok = self.peek()
            if not first and (tok is None or tok.kind not in "+-"):
                break
            while tok is not None and tok.kind in "+-":
                sign = -sign if self.take().kind == "-" else sign
                tok = self.peek()
            if tok is None:
                raise self.fail(tok, "it ends where a term should follow")
            item = self.item()
            if isinstance(item, str):
                if not top:
                    raise self.fail(tok, "1 and 0 (the intercept) belong at the top level, "
                                         "not inside parentheses")
                intercept = (item == _ONE) == (sign == 1)
            elif sign == 1:
                for t in item:
                    terms.setdefault(frozenset(t), t)
            else:
                for t in item:
                    terms.pop(frozenset(t), None)
            first = False
        return list(terms.values()), intercept

    # item := product ('*' product)*
    def item(self) -> list[Term] | str:
        start = self.peek()
        value = self.product()
        while (tok := self.peek()) is not None and tok.kind == "*":
            self.take()
            right = self.product()
            if isinstance(value, str) or isinstance(right, str):
                raise self.fail(start, "1 and 0 (the intercept) cannot be multiplied")
            value = _union(_union(value, right), _interact(value, right))
        return value

    # product := atom (':' atom)*
    def product(self) -> list[Term] | str:
        start = self.peek()
        value = self.atom()
        while (tok := self.peek()) is not None and tok.kind == ":":
            self.take()
            right = self.atom()
            if isinstance(value, str) or isinstance(right, str):
                raise self.fail(start, "1 and 0 (the intercept) cannot take part in ':'")
            value = _interact(value, right)
        return value

    def atom(self) -> list[Term] | str:
        tok = self.peek()
        if tok is None:
            raise self.fail(tok, "it ends where a term should follow")
        self.take()
        if tok.kind == "quoted":
            return [(Factor(self.column(tok)),)]
        if tok.kind == "name":
            nxt = self.peek()
            if nxt is not None and nxt.kind == "(":
                return [(self.call(tok),)]
            return [(Factor(self.column(tok)),)]
        if tok.kind == ".":
            return [(Factor(c),) for c in self.columns if c != self.response]
        if tok.kind == "int":
            if tok.text in (_ONE, _ZERO):
                return tok.text
            raise self.fail(tok, "the only numbers a formula takes are 1 and 0 (the "
                                 "intercept) and poly's degree")
        if tok.kind == "(":
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise self.fail(tok, f"parentheses nest deeper than {_MAX_DEPTH}")
            terms, _ = self.sum(top=False)
            close = self.peek()
            if close is None or close.kind != ")":
                raise self.fail(tok, "a '(' has no matching ')'")
            self.take()
            self.depth -= 1
            return terms
        raise self.fail(tok)

    def call(self, name: _Token) -> Factor:
        """C(col), log(col), ..., poly(col, k): the argument must be one column."""
        end = self._matching_paren()
        if name.text not in TRANSFORMS:
            raise _refusal(self.text, name.start, GRAMMAR, end)
        self.take()  # '('
        arg = self.peek()
        if arg is None or arg.kind not in ("name", "quoted") or (
            self.i + 1 < len(self.tokens) and self.tokens[self.i + 1].kind == "("
        ):
            raise _refusal(self.text, name.start,
                           f"{name.text}(...) takes one column name", end)
        self.take()
        degree = 0
        if name.text == "poly":
            comma, k = self.peek(), None
            if comma is not None and comma.kind == ",":
                self.take()
                k = self.peek()
            if k is None or k.kind != "int" or not 1 <= int(k.text) <= MAX_POLY_DEGREE:
                raise _refusal(self.text, name.start, "poly(col, k) takes a column name and "
                               f"a whole number k from 1 to {MAX_POLY_DEGREE}", end)
            self.take()
            degree = int(k.text)
        close = self.peek()
        if close is None or close.kind != ")":
            why = ("poly(col, k) takes a column name and a whole number k" if degree
                   else f"{name.text}(...) takes one column name")
            raise _refusal(self.text, name.start, why, end)
        self.take()
        return Factor(self.column(arg), name.text, degree)

    def _matching_paren(self) -> int:
        """The raw-text end of the call whose '(' is the next token (for error messages)."""
        depth = 0
        for tok in self.tokens[self.i:]:
            depth += tok.kind == "("
            depth -= tok.kind == ")"
            if depth == 0:
                return tok.end
        return len(self.text)


def _union(a: list[Term], b: list[Term]) -> list[Term]:
    out = {frozenset(t): t for t in a}
    for t in b:
        out.setdefault(frozenset(t), t)
    return list(out.values())


def _interact(a: list[Term], b: list[Term]) -> list[Term]:
    """Every term of `a` with every term of `b` (a factor appears once in a term)."""
    out: dict[frozenset[Factor], Term] = {}
    for s in a:
        for t in b:
            merged = s + tuple(f for f in t if f not in s)
            if len(merged) > _MAX_FACTORS:
                raise ValueError(f"an interaction may join at most {_MAX_FACTORS} factors, "
                                 f"{':'.join(f.name for f in merged)} joins {len(merged)}")
            out.setdefault(frozenset(merged), merged)
            if len(out) > _MAX_TERMS:
                raise ValueError(f"a formula may have at most {_MAX_TERMS} terms, this one "
                                 "has more")
    return list(out.values())


def parse_formula(text: str, columns: Sequence[str]) -> Formula:
    """Parse `text` ("y ~ x1 + x2") against the data's `columns` (names, in order).

    Returns the response, the terms (ordered by degree, then appearance) and the intercept.
    Anything outside the grammar of this module's docstring is a ValueError naming the
    offending term; columns that are not in `columns` are a ValueError naming them; so is a
    formula without predictors ("y ~ 1"). Nothing in `text` is ever evaluated.
    """
    if not isinstance(text, str):
        raise TypeError(f"a formula is a string like 'y ~ x1 + x2', got {type(text).__name__}")
    tokens = _tokenize(text)
    tildes = [t for t in tokens if t.kind == "~"]
    if not tildes:
        raise ValueError(f"formula '{show(text)}' has no response: write it as 'y ~ x1 + x2'")
    if len(tildes) > 1:
        raise _refusal(text, tildes[1].start, "a formula has one '~'")
    split = tokens.index(tildes[0])
    lhs, rhs = tokens[:split], tokens[split + 1:]
    if not lhs:
        raise ValueError(f"formula '{show(text)}' has no response: write it as 'y ~ x1 + x2'")
    if len(lhs) != 1 or lhs[0].kind not in ("name", "quoted"):
        raise ValueError(
            f"formula '{show(text)}': the response (left of '~') must be a single column "
            "(a name or a `backquoted name`)"
        )
    response = lhs[0].text
    if not rhs:
        raise ValueError(f"formula '{show(text)}' has nothing right of '~': name the "
                         "predictors, e.g. 'y ~ x1 + x2' or 'y ~ .'")
    parser = _Parser(text, rhs, columns, response)
    terms, intercept = parser.sum(top=True)
    if parser.i < len(rhs):
        raise parser.fail(rhs[parser.i])
    missing = ([response] if response not in columns else []) + parser.missing
    if missing:
        raise ValueError(
            f"column(s) {', '.join(map(repr, missing))} named in the formula '{show(text)}' "
            f"are not in the data (columns: {show(', '.join(columns))})"
        )
    if not terms:
        raise ValueError(
            f"formula '{show(text)}' has no predictors: a network needs at least one column "
            "right of '~' (e.g. 'y ~ x' or 'y ~ .'; an intercept alone has no inputs)"
        )
    ordered = sorted(terms, key=len)  # stable: appearance order within a degree
    return Formula(text, response, tuple(ordered), True if intercept is None else intercept)
