"""FEEL tokenizer.

Names with spaces. FEEL lets a variable be called `Employee Badge Number`, and a function
`string length`, but a tokenizer cannot know which words belong together without knowing the
variables in scope, which deploy time does not. The rule used here:

    A run of words separated by spaces or tabs is one name, unless a word is a keyword.

Keywords (`and or not if then else for in return some every satisfies between true false
null function`, and `instance of`) always stand alone, so `a and b`, `if x then y else z`,
`some x in xs satisfies ...` tokenize as in FEEL and a keyword is never swallowed into a name.
Words after the first may start with a digit (`Address Line 2`). A name followed by "(" is a
function name (`string length(x)`); the few built-in names that contain a keyword (`date and
time`, `get or else`) are recognised before keywords split them. A name in backticks
(`` `order-id` ``) is taken literally. How a name is looked up at evaluation time is
described in feel.py.

Offsets in tokens are positions in the whole attribute text (a leading "=" included), so
error columns point where the user looks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ExpressionError

KEYWORDS = frozenset(
    "and or not if then else for in return some every satisfies between true false null function".split()
)
_KEYWORD_FUNCTION = re.compile(
    r"(date\s+and\s+time|get\s+or\s+else|years\s+and\s+months\s+duration)(?=\s*\()"
)
_INSTANCE_OF = re.compile(r"instance\s+of\b")
# FEEL names may use any character beyond the Basic Multilingual Plane (🐎 is a name).
_FIRST_WORD = re.compile(r"(?:[^\W\d]|[\U00010000-\U000EFFFF])(?:\w|[\U00010000-\U000EFFFF])*")
_NEXT_WORD = re.compile(r"[ \t]+((?:\w|[\U00010000-\U000EFFFF])+)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_OPERATORS = (
    "**",
    "!=",
    "<=",
    ">=",
    "..",
    "+",
    "-",
    "*",
    "/",
    "=",
    "<",
    ">",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    ":",
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "'": "'", "\\": "\\", "b": "\b", "f": "\f"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "number" | "string" | "temporal" | "name" | "keyword" | "op" | "end"
    value: str  # number text, decoded string, name (words joined by one space), keyword, operator
    start: int  # offset of the first character in the whole source text
    end: int
    raw: str = ""  # names: the text as written, e.g. with two spaces between words

    @property
    def column(self) -> int:
        return self.start + 1


def tokenize(text: str, start: int = 0) -> list[Token]:
    """The tokens of text[start:], ending with an "end" token."""
    return _Lexer(text).run(start)


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[Token] = []

    def error(self, message: str, position: int) -> ExpressionError:
        return ExpressionError(self.text, f"{message} at column {position + 1}", position + 1)

    def run(self, position: int) -> list[Token]:
        text = self.text
        while position < len(text):
            char = text[position]
            if char.isspace():
                position += 1
            elif text.startswith("//", position):
                newline = text.find("\n", position)
                position = len(text) if newline < 0 else newline
            elif text.startswith("/*", position):
                close = text.find("*/", position + 2)
                if close < 0:
                    raise self.error("unterminated comment", position)
                position = close + 2
            elif char == '"':
                position = self.string(position)
            elif char == "`":
                position = self.quoted_name(position)
            elif (number := _NUMBER.match(text, position)) is not None:
                self.tokens.append(Token("number", number.group(), position, number.end()))
                position = number.end()
            elif _FIRST_WORD.match(text, position):
                position = self.word(position)
            else:
                position = self.operator(position)
        self.tokens.append(Token("end", "", len(text), len(text)))
        return self.tokens

    def word(self, position: int) -> int:
        text = self.text
        if (special := _KEYWORD_FUNCTION.match(text, position)) is not None:
            name = " ".join(special.group().split())
            self.tokens.append(Token("name", name, position, special.end(), special.group()))
            return special.end()
        if (instance := _INSTANCE_OF.match(text, position)) is not None:
            self.tokens.append(Token("keyword", "instance of", position, instance.end()))
            return instance.end()
        first = _FIRST_WORD.match(text, position)
        assert first is not None
        if first.group() in KEYWORDS:
            self.tokens.append(Token("keyword", first.group(), position, first.end()))
            return first.end()
        words, end = [first.group()], first.end()
        while (following := _NEXT_WORD.match(text, end)) is not None:
            word = following.group(1)
            if word in KEYWORDS or _INSTANCE_OF.match(text, following.start(1)):
                break
            words.append(word)
            end = following.end()
        self.tokens.append(Token("name", " ".join(words), position, end, text[position:end]))
        return end

    def quoted_name(self, position: int) -> int:
        close = self.text.find("`", position + 1)
        if close < 0:
            raise self.error("unterminated `name`", position)
        name = self.text[position + 1 : close]
        if not name:
            raise self.error("empty `name`", position)
        self.tokens.append(Token("name", name, position, close + 1, name))
        return close + 1

    def string(self, position: int) -> int:
        text, index, chars = self.text, position + 1, []
        while index < len(text):
            char = text[index]
            if char == '"':
                self.tokens.append(Token("string", self.finish_string(chars), position, index + 1))
                return index + 1
            if char == "\\" and index + 1 < len(text):
                code = text[index + 1]
                if code == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[index + 2 : index + 6]):
                    chars.append(chr(int(text[index + 2 : index + 6], 16)))
                    index += 6
                    continue
                if code == "U" and re.fullmatch(r"[0-9a-fA-F]{6}", text[index + 2 : index + 8]):
                    point = int(text[index + 2 : index + 8], 16)
                    if point > 0x10FFFF:
                        raise self.error(f"\\U{text[index + 2 : index + 8]} is beyond Unicode", index)
                    chars.append(chr(point))
                    index += 8
                    continue
                # Unknown escapes stay as written: regular expressions such as "\d+" keep working.
                chars.append(_ESCAPES.get(code, "\\" + code))
                index += 2
                continue
            chars.append(char)
            index += 1
        raise self.error("unterminated string", position)

    def finish_string(self, chars: list[str]) -> str:
        """The string's text, with UTF-16 surrogate pairs written as \\uD83D\\uDCA9 joined into one character."""
        text = "".join(chars)
        if not any("\ud800" <= char <= "\udfff" for char in text):
            return text
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    def operator(self, position: int) -> int:
        text = self.text
        for operator in _OPERATORS:
            if text.startswith(operator, position):
                self.tokens.append(Token("op", operator, position, position + len(operator)))
                return position + len(operator)
        char = text[position]
        if char == "@" and text.startswith('"', position + 1):
            # @"2024-01-01": a temporal literal, the string token marked as such.
            end = self.string(position + 1)
            literal = self.tokens.pop()
            self.tokens.append(Token("temporal", literal.value, position, end))
            return end
        if char == "?":
            raise self.error("unsupported FEEL construct 'unary test input ?'", position)
        if char == "!":
            raise self.error("unexpected '!' (FEEL negation is not(x))", position)
        if char == "'":
            raise self.error('unexpected "\'" (FEEL strings use double quotes)', position)
        raise self.error(f"unexpected character {char!r}", position)
