"""Clean text from GitHub (comments, review comments, PR and issue bodies) before a prompt.

What a reader cannot see on GitHub must not steer the model. The text is parsed the way GitHub
reads it (CommonMark with GFM tables and strikethrough, by markdown-it-py, raw HTML on), and
whatever the rendered page does not show is cut out of the source; the rest stays as written,
so the model reads the Markdown its author wrote. Cut:

- HTML comments, declarations and processing instructions. A `<!--` that is not closed hides
  the rest of the text, as it does in raw HTML; where Markdown reads it as text instead, the
  rest goes too: dropping what a reader might see only withholds it.
- HTML tags themselves, attributes and all: `title=` is a tooltip and `alt=` shows only when an
  image fails. The text between tags stays (`<details>` is visible once expanded); a tag that
  breaks a line (`<br>`, `<p>`, `<div>` …) leaves a space.
- Elements a browser does not display, with everything inside: anything marked `hidden`,
  `<script>`, `<style>`, `<template>` and their kind. One left open hides the rest, as does a
  tag an HTML block leaves unfinished.
- Link reference definitions, titles and all (`[x]: https://e.com "…"`, and the `[//]: # (…)`
  comment idiom), also a paragraph line that would be one standing alone (the text may reach
  us with its blank lines gone), and any line the parser placed in no block (past its nesting
  limit).
- Link titles: `[t](u "tooltip")` becomes `[t](u)`. The link text and address stay, since a
  reader sees the one and reaches the other.
- Images: a reader sees a picture, not its alt text or title.
- A code fence's info string after its first word (the language); GitHub shows neither.
- Invisible characters (zero-width and bidirectional controls, Unicode tag characters,
  variation selectors), also when written as entities (`&#8203;`).

Code (fenced, indented, inline) is shown literally, so it stays, `<!--` and all. Cleaning only
ever shortens the text, and it repeats until nothing changes, since a cut can join a new
comment (`<!<!-- -->-- … -->`); text that keeps doing so is hostile and nothing of it is kept.
Where the parser's token cannot be placed in the source, its whole block is cut: unsure means
unseen.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline, backtick, entity, html_inline, image, link
from markdown_it.token import Token
from markdown_it.utils import EnvType

__all__ = ["sanitize_trigger_text"]

#: (start, end, what replaces it): offsets into the text of one pass.
Cut = tuple[int, int, str]
Span = tuple[int, int]
InlineRule = Callable[[StateInline, bool], bool]
Kind = Literal["start", "end", "cut", "rest"]

#: What may stand before a block on its line: indentation, quote markers, list markers.
_PREFIX: Final = re.compile(r"[ \t>]*(?:(?:[-+*]|\d{1,9}[.)])(?=[ \t]|$)[ \t>]*)*")
_TAG_NAME: Final = re.compile(r"[A-Za-z][^\t\n\f />]*")
_ATTRIBUTE_NAME: Final = re.compile(r"[^\t\n\f />][^\t\n\f />=]*")
_BETWEEN_ATTRIBUTES: Final = re.compile(r"[\t\n\f /]*")
_SPACES: Final = re.compile(r"[\t\n\f ]*")
_UNQUOTED: Final = re.compile(r"[^\t\n\f >]*")
# HTML reads numeric references without their `;` too.
_ENTITY: Final = re.compile(
    r"&(?:#[xX][0-9A-Fa-f]{1,6};?|#[0-9]{1,7};?|[A-Za-z][A-Za-z0-9]{1,31};)"
)
_FIRST_WORD: Final = re.compile(r"[ \t]*\S*")
_LEAVES: Final = frozenset(
    {"paragraph_open", "heading_open", "hr", "fence", "code_block", "html_block", "table_open"}
)
_VOID: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip
_BREAKING: Final = frozenset(
    {"br", "hr", "p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
     "blockquote", "pre", "table", "ul", "ol", "dl", "dt", "dd", "details", "summary"}
)  # fmt: skip
#: Elements whose content is text up to their end tag, and elements a browser never shows.
_RAW_TEXT: Final = frozenset(
    {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript"}
)
_HIDING: Final = _RAW_TEXT | {"template", "object", "svg", "math", "head"}
#: Passes before text that keeps joining new comments counts as hostile; one pass or two for
#: anything a person writes.
_MAX_PASSES: Final = 4


def _visible(char: str) -> bool:
    if char in "\n\t":
        return True
    if unicodedata.category(char) in ("Cf", "Cc", "Co", "Cn"):
        return False
    code = ord(char)
    # Variation selectors can carry hidden bytes (one per selector) after any character.
    return not (0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF)


def _strip_chars(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(char for char in text if _visible(char))


# The parser: markdown-it's own inline rules, each noting on the token it makes where that token
# stands in the inline source (markdown-it keeps only line numbers).


def _recorded(rule: InlineRule, kind: str) -> InlineRule:
    def recording(state: StateInline, silent: bool) -> bool:
        start, count = state.pos, len(state.tokens)
        if not rule(state, silent):
            return False
        if not silent and len(state.tokens) > count and state.tokens[-1].type == kind:
            state.tokens[-1].meta["span"] = (start, state.pos)
        return True

    return recording


def _blank_end(src: str, pos: int, end: int) -> int:
    while pos < end and src[pos] in " \t\n":
        pos += 1
    return pos


def _title_span(state: StateInline, label_end: int, end: int) -> Span | None:
    """Where an inline link's title stands, blanks before it included; None when unsure."""
    src, helpers = state.src, state.md.helpers
    destination = helpers.parseLinkDestination(src, _blank_end(src, label_end + 2, end), end)
    title_at = _blank_end(src, destination.pos, end)
    title = helpers.parseLinkTitle(src, title_at, end)
    if not destination.ok or not title.ok or title_at == destination.pos:
        return None
    return (destination.pos, title.pos) if _blank_end(src, title.pos, end) == end - 1 else None


def _link(state: StateInline, silent: bool) -> bool:
    start, count = state.pos, len(state.tokens)
    if not link(state, silent):
        return False
    opened = next((t for t in state.tokens[count:] if t.type == "link_open"), None)
    if not silent and opened is not None and opened.attrGet("title"):
        opened.meta["span"] = (start, state.pos)
        label_end = state.md.helpers.parseLinkLabel(state, start, True)
        # A reference link's title is in its definition, which goes anyway.
        if label_end >= 0 and state.src.startswith("(", label_end + 1):
            opened.meta["title"] = _title_span(state, label_end, state.pos)
    return True


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    # text_join would fold entity tokens, and the places noted on them, into plain text.
    md.disable("text_join")
    md.inline.ruler.at("html_inline", _recorded(html_inline, "html_inline"))
    md.inline.ruler.at("image", _recorded(image, "image"))
    md.inline.ruler.at("backticks", _recorded(backtick, "code_inline"))
    md.inline.ruler.at("entity", _recorded(entity, "text_special"))
    md.inline.ruler.at("link", _link)
    return md


_MD: Final = _parser()


@dataclass(frozen=True, slots=True)
class _Html:
    """One HTML construct at offsets into its text; a `rest` hides everything from `start` on."""

    start: int
    end: int
    kind: Kind
    tag: str = ""
    hides: bool = False

    def placed(self, where: _Map) -> _Html:
        return _Html(where.at(self.start), where.at(self.end), self.kind, self.tag, self.hides)


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    found = pattern.match(text, pos)
    return found.end() if found else pos


def _attributes(text: str, pos: int) -> tuple[int, bool] | None:
    """From after a tag's name: where the tag ends (past its `>`) and whether it is marked
    `hidden`; None when it never ends. Quoted values may hold `>`."""
    hidden = False
    while True:
        pos = _skip(_BETWEEN_ATTRIBUTES, text, pos)
        if pos >= len(text) or text[pos] == ">":
            return (pos + 1, hidden) if pos < len(text) else None
        name_end = _skip(_ATTRIBUTE_NAME, text, pos)
        hidden = hidden or text[pos:name_end].lower() == "hidden"
        pos = _skip(_SPACES, text, name_end)
        if not text.startswith("=", pos):
            continue
        pos = _skip(_SPACES, text, pos + 1)
        if text[pos : pos + 1] in ("'", '"'):
            close = text.find(text[pos], pos + 1)
            if close < 0:
                return None
            pos = close + 1
        else:
            pos = _skip(_UNQUOTED, text, pos)


def _comment(text: str, at: int) -> _Html:
    for short in ("<!-->", "<!--->"):
        if text.startswith(short, at):
            return _Html(at, at + len(short), "cut")
    close = text.find("-->", at + 4)
    return _Html(at, close + 3, "cut") if close >= 0 else _Html(at, len(text), "rest")


def _construct(text: str, at: int) -> _Html | None:
    """The construct opened by the `<` at `at` (None: that `<` is text), tokenized the way HTML
    does: a comment, a bogus comment or declaration up to `>`, an end tag, a start tag."""
    if text.startswith("<!--", at):
        return _comment(text, at)
    closing = text.startswith("</", at)
    name = _TAG_NAME.match(text, at + 1 + closing)
    if name is None:
        if not text.startswith(("<!", "<?", "</"), at):
            return None
        close = text.find(">", at + 2)
        return _Html(at, close + 1, "cut") if close >= 0 else _Html(at, len(text), "rest")
    ended = _attributes(text, name.end())
    if ended is None:
        return _Html(at, len(text), "rest")
    tag = name.group().lower()
    if closing:
        return _Html(at, ended[0], "end", tag)
    return _Html(at, ended[0], "start", tag, ended[1] or tag in _HIDING)


def _entities(text: str, start: int, end: int) -> Iterator[_Html]:
    for found in _ENTITY.finditer(text, start, end):
        if not all(map(_visible, html.unescape(found.group()))):
            yield _Html(found.start(), found.end(), "cut")


def _html_events(text: str, *, raw_text: bool) -> Iterator[_Html]:
    """What of raw HTML `text` a reader does not see as such, in order: tags, comments, and
    entities for invisible characters. With `raw_text`, what follows `<script>` and its kind up
    to their end tag is text."""
    # Not html.parser: it rescans an unfinished tag or comment at every later `<` (half a
    # minute on 64 kB of `<div ` in Python 3.11) and asserts on `<![x`. Nothing is scanned twice
    # here, and a construct that never ends is a `rest`.
    pos = 0
    while (at := text.find("<", pos)) >= 0:
        yield from _entities(text, pos, at)
        found = _construct(text, at)
        if found is None:
            pos = at + 1
            continue
        yield found
        if found.kind == "rest":
            return
        pos = found.end
        if raw_text and found.kind == "start" and found.tag in _RAW_TEXT:
            close = re.compile(rf"</{found.tag}[\t\n\f />]", re.I).search(text, pos)
            if close is None:
                yield _Html(pos, len(text), "rest")
                return
            pos = close.start()
    yield from _entities(text, pos, len(text))


def _hidden(pieces: list[_Html], length: int) -> Iterator[Cut]:
    """What of the HTML a reader does not see: tags, comments, hiding elements whole."""
    opened_at: int | None = None
    open_tags: list[str] = []
    for piece in sorted(pieces, key=lambda p: p.start):
        if piece.kind == "rest":
            yield (piece.start if opened_at is None else opened_at), length, ""
            return
        if opened_at is None and piece.kind == "start" and piece.hides and piece.tag not in _VOID:
            opened_at, open_tags = piece.start, [piece.tag]
        elif opened_at is None:
            yield piece.start, piece.end, " " if piece.tag in _BREAKING else ""
        elif piece.kind == "start" and piece.tag not in _VOID:
            open_tags.append(piece.tag)
        elif piece.kind == "end" and piece.tag in open_tags:
            hiding = open_tags[0]
            del open_tags[len(open_tags) - 1 - open_tags[::-1].index(piece.tag) :]
            if not open_tags:
                yield opened_at, piece.end, " " if hiding in _BREAKING else ""
                opened_at = None
    if opened_at is not None:
        yield opened_at, length, ""


# Placing tokens in the source: a token's content is its source lines less what came before it
# on each line (quote and list markers, indentation); the parser may expand a tab into spaces.


@dataclass(frozen=True, slots=True)
class _Map:
    """Where each line of a token's content begins in the source; `pads` are the spaces the
    parser put before a line's first character in place of a tab."""

    starts: tuple[int, ...]
    bases: tuple[int, ...]
    pads: tuple[int, ...]

    def at(self, offset: int) -> int:
        line = bisect_right(self.starts, offset) - 1
        return self.bases[line] + max(0, offset - self.starts[line] - self.pads[line])


class _Lines:
    def __init__(self, src: str) -> None:
        self.src = src
        self.starts = [0, *(i + 1 for i, char in enumerate(src) if char == "\n")]

    def end(self, number: int) -> int:
        return self.starts[number + 1] - 1 if number + 1 < len(self.starts) else len(self.src)

    def text(self, number: int) -> str:
        return self.src[self.starts[number] : self.end(number)] if number < len(self.starts) else ""

    def span(self, first: int, last: int) -> Span:
        return self.starts[first], self.end(max(first, last - 1))


def _align(part: str, line: str, end: int) -> tuple[int, int] | None:
    """(where `part` begins in `line`, its pad) if `part` ends at `end` of `line`."""
    matched = 0
    while matched < min(len(part), end) and part[-1 - matched] == line[end - 1 - matched]:
        matched += 1
    pad = len(part) - matched
    return None if part[:pad].strip(" ") else (end - matched, pad)


def _aligned(content: str, lines: _Lines, first: int, last: int, trimmed: bool) -> _Map | None:
    """Place content taken from source lines [first, last): each line ends where its source
    line does, but the last of `trimmed` content, whose trailing blanks the parser dropped."""
    parts = content.split("\n")
    if content.endswith("\n"):
        parts.pop()
    if len(parts) != last - first:
        return None
    starts, bases, pads, offset = [], [], [], 0
    for number, part in enumerate(parts, first):
        line = lines.text(number)
        end = len(line)
        if trimmed and number == last - 1 and part:
            while end > 0 and line[end - 1] != part[-1] and line[end - 1].isspace():
                end -= 1
        found = _align(part, line, end)
        if found is None:
            return None
        starts.append(offset)
        bases.append(lines.starts[number] + found[0])
        pads.append(found[1])
        offset += len(part) + 1
    return _Map(tuple(starts), tuple(bases), tuple(pads))


def _defines(line: str) -> bool:
    """Whether `line` alone is a link reference definition (`[//]: # (…)` among them)."""
    if not line.lstrip(" ").startswith("[") or "]:" not in line:
        return False
    env: EnvType = {}
    return not _MD.parse(line, env) and bool(env.get("references"))


def _hides(child: Token) -> bool:
    """Whether an inline token whose place was noted is something a reader does not see."""
    if "span" not in child.meta or child.type == "code_inline":
        return False
    if child.type == "link_open":
        # Its title, or all of it when the title could not be placed; a reference's is elsewhere.
        return "title" in child.meta
    return child.type != "text_special" or not all(map(_visible, child.content))


class _Cuts:
    """What one pass removes from `src`, gathered from the parsed tokens."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.lines = _Lines(src)
        self.cuts: list[Cut] = []
        self.code: list[Span] = []
        self.html: list[_Html] = []
        self.cells: dict[int, int] = {}

    def cut(self, start: int, end: int) -> None:
        if start < end:
            self.cuts.append((start, end, ""))

    def read(self, tokens: list[Token]) -> None:
        covered = [False] * len(self.lines.starts)
        for index, token in enumerate(tokens):
            if not token.map:
                continue
            first, last = token.map
            if token.type in _LEAVES:
                covered[first:last] = [True] * (last - first)
            if token.type == "inline" and index:
                self._inline(token, tokens[index - 1])
            elif token.type == "html_block":
                self._html_block(token.content, first, last)
            elif token.type in ("fence", "code_block"):
                self.code.append(self.lines.span(first, last))
                if token.type == "fence":
                    self._info(first, token.markup)
        for number, shown in enumerate(covered):
            line = self.lines.text(number)
            found = _PREFIX.match(line)
            prefix = found.end() if found else 0
            if not shown and line[prefix:].strip():
                self.cut(self.lines.starts[number] + prefix, self.lines.end(number))

    def _info(self, number: int, markup: str) -> None:
        line = self.lines.text(number)
        at = line.find(markup)
        word = _FIRST_WORD.match(line, at + len(markup)) if at >= 0 else None
        if word is not None and line[word.end() :].strip():
            self.cut(self.lines.starts[number] + word.end(), self.lines.end(number))

    def _map(self, token: Token, opener: Token) -> _Map | None:
        first, last = token.map or (0, 0)
        atx = opener.type == "heading_open" and opener.markup.startswith("#")
        if not atx and opener.type not in ("th_open", "td_open"):
            return _aligned(token.content, self.lines, first, last, trimmed=True)
        # One line: an ATX heading's text follows its #s; table cells follow one another.
        line = self.lines.text(first)
        after = self.cells.get(first, 0)
        if atx:
            hashes = line.find("#")
            after = hashes + len(line[hashes:]) - len(line[hashes:].lstrip("#"))
        found = line.find(token.content, after)
        if found < 0:
            return None
        self.cells[first] = found + len(token.content)
        return _Map((0,), (self.lines.starts[first] + found,), (0,))

    def _inline(self, token: Token, opener: Token) -> None:
        children = token.children or []
        parts = token.content.split("\n")
        defining = [
            n for n, part in enumerate(parts) if opener.type == "paragraph_open" and _defines(part)
        ]
        where = self._map(token, opener)
        if where is None:
            if defining or any(_hides(child) for child in children):
                self.cut(*self.lines.span(*(token.map or (0, 0))))
            return
        for child in children:
            span = child.meta.get("span")
            if span is None:
                continue
            start, end = where.at(span[0]), where.at(span[1])
            if child.type == "html_inline":
                found = next(_html_events(child.content, raw_text=False), None)
                kind = found.kind if found and found.kind in ("start", "end") else "cut"
                tag, hides = (found.tag, found.hides) if found else ("", False)
                self.html.append(_Html(start, end, kind, tag, hides))
            elif child.type == "code_inline":
                self.code.append((start, end))
            elif child.type == "link_open" and child.meta.get("title"):
                title = child.meta["title"]
                self.cut(where.at(title[0]), where.at(title[1]))
            elif _hides(child):
                self.cut(start, end)
        self._defining_lines(parts, defining, where)

    def _defining_lines(self, parts: list[str], defining: list[int], where: _Map) -> None:
        """Cut paragraph lines that would define a link reference standing alone: GitHub hides
        one after a blank line, and comments reach us with their lines joined again."""
        ends = [where.starts[n] + len(part) for n, part in enumerate(parts)]
        for number in defining:
            if number:
                self.cut(where.at(ends[number - 1]), where.at(ends[number]))
            else:
                self.cut(where.at(0), where.at(where.starts[1] if len(parts) > 1 else ends[0]))

    def _html_block(self, content: str, first: int, last: int) -> None:
        where = _aligned(content, self.lines, first, last, trimmed=False)
        if where is None:
            self.cut(*self.lines.span(first, last))
            return
        for found in _html_events(content, raw_text=True):
            self.html.append(found.placed(where))

    def result(self) -> str:
        cuts = _merged([*self.cuts, *_hidden(self.html, len(self.src))])
        code = _merged([(start, end, "") for start, end in self.code])
        # An `<!--` outside code that no comment closed hides the rest.
        at = self.src.find("<!--")
        while at >= 0 and (_inside(at, cuts) or _inside(at, code)):
            at = self.src.find("<!--", at + 1)
        if at >= 0:
            cuts = _merged([*cuts, (at, len(self.src), "")])
        kept, last = [], 0
        for start, end, fill in cuts:
            kept += [self.src[last:start], fill]
            last = end
        kept.append(self.src[last:])
        return "".join(kept)


def _merged(cuts: list[Cut]) -> list[Cut]:
    merged: list[Cut] = []
    for start, end, fill in sorted(cuts):
        if merged and start <= merged[-1][1]:
            before = merged[-1]
            merged[-1] = (before[0], max(before[1], end), max(before[2], fill))
        else:
            merged.append((start, end, fill))
    return merged


def _inside(offset: int, cuts: list[Cut]) -> bool:
    """Whether `offset` falls in one of `cuts` (sorted, apart)."""
    index = bisect_right(cuts, offset, key=lambda cut: cut[0]) - 1
    return index >= 0 and cuts[index][0] <= offset < cuts[index][1]


def _one_pass(text: str) -> str:
    src = _strip_chars(text)
    cuts = _Cuts(src)
    cuts.read(_MD.parse(src))
    return cuts.result().strip()


def sanitize_trigger_text(text: str) -> str:
    """`text` as a reader sees it on GitHub: nothing hidden, the Markdown otherwise as written."""
    for _ in range(_MAX_PASSES):
        cleaned = _one_pass(text)
        if cleaned == text:
            return cleaned
        text = cleaned
    return ""
