"""FEEL's regular expressions (matches, replace, split): XML Schema / XPath syntax, run by `regex`.

Why the `regex` package rather than RE2 or the standard `re`: FEEL patterns follow XPath
(fn:matches), which has back-references (`(a)\\1`), character class subtraction
(`[A-Z-[OI]]`) and Unicode block escapes (`\\p{IsBasicLatin}`). RE2 has no back-references
and no subtraction; `re` has neither subtraction nor blocks. `regex` has all three, and, since
back-references make matching backtrack, a pattern written into a model (or passed in a
variable) could take exponential time: every match runs with a timeout
(MATCH_TIMEOUT seconds), and running out is an evaluation error, not a hung worker.

Translation from XPath to `regex` syntax, outside character classes unless said otherwise:
- `.` matches any character but \\n and \\r (flag s: any character);
- `$` is the end of the input (flag m: of a line), never "before a final newline";
- `[a-z-[aeiou]]` (subtraction) becomes the V1 set operation `[[a-z]--[aeiou]]`;
- `\\p{IsBlock}` becomes `\\p{InBlock}`; `\\0` and back-references to no group are errors;
- flag x removes whitespace outside classes; flag q takes the pattern literally.
"""

from __future__ import annotations

import functools

import regex

MATCH_TIMEOUT = 0.25  # seconds of matching per call: far beyond any sane pattern on real input


class RegexError(ValueError):
    """A pattern that is not a valid XPath regular expression, or one that ran out of time."""


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str, flags: str = "") -> regex.Pattern[str]:
    if set(flags) - set("ismxq"):
        raise RegexError(f"unknown regular expression flags {flags!r} (i, s, m, x, q)")
    if "q" in flags:
        source = regex.escape(pattern)
    else:
        source = _translate(pattern, dot_all="s" in flags, multiline="m" in flags, extended="x" in flags)
    options = regex.V1
    if "i" in flags:
        options |= regex.IGNORECASE
    if "m" in flags:
        options |= regex.MULTILINE
    try:
        return regex.compile(source, options)
    except regex.error as error:
        raise RegexError(f"invalid regular expression {pattern!r}: {error}") from None


def search(compiled: regex.Pattern[str], text: str) -> bool:
    try:
        return compiled.search(text, timeout=MATCH_TIMEOUT) is not None
    except TimeoutError:
        raise RegexError("the regular expression took too long on this input") from None


def substitute(compiled: regex.Pattern[str], template: str, text: str) -> str:
    try:
        return compiled.sub(template, text, timeout=MATCH_TIMEOUT)
    except TimeoutError:
        raise RegexError("the regular expression took too long on this input") from None
    except (regex.error, IndexError) as error:
        raise RegexError(f"invalid replacement: {error}") from None


def split(compiled: regex.Pattern[str], text: str) -> list[str]:
    try:
        return compiled.split(text, timeout=MATCH_TIMEOUT)
    except TimeoutError:
        raise RegexError("the regular expression took too long on this input") from None


def _without_whitespace(pattern: str) -> str:
    """Flag x: whitespace outside character classes goes, even after a backslash (`\\ s` is `\\s`)."""
    out: list[str] = []
    depth, escaped = 0, False
    for char in pattern:
        if char.isspace() and depth == 0:
            continue
        out.append(char)
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
    return "".join(out)


def _translate(pattern: str, *, dot_all: bool, multiline: bool, extended: bool) -> str:
    if extended:
        pattern = _without_whitespace(pattern)
    out: list[str] = []
    index = 0
    groups = 0
    while index < len(pattern):
        char = pattern[index]
        if extended and char.isspace():
            index += 1
        elif char == "\\":
            escape, index = _escape(pattern, index, extended)
            if escape[1:].isdigit():
                if escape == "\\0" or int(escape[1:]) > groups:
                    raise RegexError(f"invalid back-reference {escape} in {pattern!r}")
            out.append(escape)
        elif char == "[":
            text, index = _class(pattern, index, extended)
            out.append(text)
        elif char == ".":
            out.append("." if dot_all else "[^\\n\\r]")
            index += 1
        elif char == "$":
            out.append("$" if multiline else "\\Z")
            index += 1
        else:
            if char == "(" and not pattern.startswith("(?", index):
                groups += 1
            out.append(char)
            index += 1
    return "".join(out)


def _escape(pattern: str, index: int, extended: bool) -> tuple[str, int]:
    """The escape at pattern[index] ("\\"), translated, and the index after it."""
    if index + 1 >= len(pattern):
        raise RegexError(f"a pattern cannot end with a backslash: {pattern!r}")
    code = pattern[index + 1]
    if code in "pP" and pattern.startswith("{", index + 2):
        close = pattern.find("}", index + 2)
        if close < 0:
            raise RegexError(f"unclosed \\{code}{{ in {pattern!r}")
        name = pattern[index + 3 : close]
        if extended:
            name = "".join(name.split())
        if name.startswith("Is"):
            name = "In" + name[2:]  # XML Schema's block escapes are regex's "In" properties
        return f"\\{code}{{{name}}}", close + 1
    if code.isdigit():
        end = index + 2
        while end < len(pattern) and pattern[end].isdigit():
            end += 1
        return pattern[index:end], end
    return pattern[index : index + 2], index + 2


def _class(pattern: str, index: int, extended: bool) -> tuple[str, int]:
    """A character class at pattern[index] ("["), with XML Schema subtraction, and the index after it."""
    out = ["["]
    index += 1
    if pattern.startswith("^", index):
        out.append("^")
        index += 1
    start = len(out)
    while index < len(pattern):
        char = pattern[index]
        if char == "]" and len(out) > start:
            return "".join(out) + "]", index + 1
        if char == "-" and pattern.startswith("[", index + 1):
            # [base-[excluded]]: the subtraction ends the class.
            excluded, index = _class(pattern, index + 1, extended)
            if not pattern.startswith("]", index):
                raise RegexError(f"a class subtraction must end its class: {pattern!r}")
            negated = out[1] == "^"
            base = "".join(out[2:] if negated else out[1:])
            return f"[{'^' if negated else ''}[{base}]--{excluded}]", index + 1
        if char == "\\":
            escape, index = _escape(pattern, index, extended)
            if escape[1:].isdigit():
                raise RegexError(f"no back-reference inside a character class: {pattern!r}")
            out.append(escape)
            continue
        if char == "[":
            out.append("\\[")  # a literal [ inside a class (V1 would read a nested set)
        else:
            out.append(char)
        index += 1
    raise RegexError(f"unclosed character class in {pattern!r}")
