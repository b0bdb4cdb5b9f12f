"""Remove secrets from telemetry before it leaves the process.

Three small, pure functions do the work, and everything else calls them:

* :func:`is_sensitive_key` — a key whose value is always secret (``password``,
  ``authorization``, ``cookie``, ``api_key``, ``*_token``, …);
* :func:`scrub_text` — masks secrets *inside* free text: bearer tokens, JWTs,
  e-mail addresses, provider API keys (``sk_live_…``), ``key=value`` pairs
  whose key is sensitive (query strings, exception messages), and the
  statement's literals and the parameters SQLAlchemy quotes in its errors;
* :func:`sanitize_sql` — replaces SQL literals (strings, numbers) by ``?``.

>>> scrub_text("login failed for ann@example.com with password=hunter2")
'login failed for [email] with password=[REDACTED]'
>>> sanitize_sql("SELECT * FROM users WHERE email = 'ann@example.com' AND id = 42")
'SELECT * FROM users WHERE email = ? AND id = ?'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "REDACTED",
    "SQL_KEYS",
    "is_sensitive_key",
    "sanitize_sql",
    "scrub_attributes",
    "scrub_text",
    "scrub_value",
]

REDACTED = "[REDACTED]"

_SENSITIVE_WORDS = (
    r"pass(?:word|wd|phrase)?|pwd|secret|token|api[-_.]?key|apikey|access[-_.]?key|"
    r"auth(?:orization)?|cookie|session(?:id)?|credentials?|private[-_.]?key|signature"
)
_SENSITIVE_KEY = re.compile(rf"(?i)(?:{_SENSITIVE_WORDS})")
#: Keys that merely mention a sensitive word but hold no secret.
_SAFE_KEYS = frozenset({"http.request.header.authorization.present", "otelpipe.auth.method"})

# Linear time on any input (a header or query string can be megabytes): an
# e-mail's local part and a pair's key start only where their run of
# characters starts (the look-behinds), and a key, once found, is never
# re-split (the atomic group) — without these a long run of letters costs
# O(n²) or worse. Lone surrogates (undecodable bytes smuggled into ``str``)
# become U+FFFD: the OTLP encoder refuses them and would drop the whole batch.
_SECRET_PATTERNS = (
    r"(?P<bearer>(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,})"
    r"|(?P<jwt>\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,})"
    # "%40": the "@" of an address in a query string or path, percent-encoded.
    r"|(?P<email>(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,})"
    r"|(?P<apikey>\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{6,})"
    r"|(?P<pair>(?<![A-Za-z0-9_.-])"
    rf"(?P<key>(?>[A-Za-z0-9_.-]*(?i:{_SENSITIVE_WORDS})[A-Za-z0-9_.-]*+))"
    r"(?P<sep>[\"']?\s*[=:]\s*[\"']?)(?P<value>(?:(?i:bearer|basic)\s+)?[^\s&,;\"']+))"
    r"|(?P<surrogate>[\ud800-\udfff])"
)
#: The secrets inside a SQL statement quoted by an error, once its literals are gone.
_SECRETS = re.compile(_SECRET_PATTERNS)
_TEXT_PATTERNS = re.compile(
    # SQLAlchemy's message for a failed statement quotes it, literals and all, up to
    # the "]" that ends a line (possessive: a statement that never ends costs one
    # pass), then its bound parameters on one line.
    r"(?P<sql>\[SQL: (?P<statement>(?:[^\]]|\](?!\n|\Z))*+))"
    r"|(?P<parameters>\[parameters: [^\n]*+)"
    rf"|{_SECRET_PATTERNS}"
)

# The secrets' own marks, shared by both pre-checks below.
_MARKERS = r"%40|eyJ|_(?:live|test)_|(?i:bearer|basic)\s"
#: Something every match of :data:`_TEXT_PATTERNS` contains: ``@`` or ``%40`` (e-mail), ``=`` or
#: ``:`` (key=value, ``[SQL: …]``, ``[parameters: …]``), ``eyJ`` (JWT), ``_live_``/``_test_``
#: (API key), "bearer "/"basic ", a lone surrogate. Searching for it first is 10-100×
#: cheaper than the full pattern on the clean text nearly every attribute holds (a
#: 32-hex request id: 1 µs, not 100 µs).
_MAYBE_SECRET = re.compile(rf"[@=:\ud800-\udfff]|{_MARKERS}")
#: What every match of :data:`_TEXT_PATTERNS` needs, exactly: a sensitive word where
#: :data:`_MAYBE_SECRET` settles for its ``=`` or ``:``. Slower (2-3 µs on a short text:
#: the words are tried at each position, hence the look-ahead on their first letters),
#: so asked only of text that passed :data:`_MAYBE_SECRET` — a URL, a Redis key
#: (``item:42``), a SQL statement with ``:id``, a timestamp — which it keeps out of the
#: full pattern (5-15 µs).
_LIKELY_SECRET = re.compile(
    rf"[@\ud800-\udfff]|{_MARKERS}|\[SQL: |\[parameters: "
    rf"|(?i:(?=[pstac])(?:{_SENSITIVE_WORDS}))"
)


def _mask(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "pair":
        return f"{match.group('key')}{match.group('sep')}{REDACTED}"
    if kind == "bearer":
        return f"{match.group('bearer').split()[0]} {REDACTED}"
    if kind == "sql":
        return f"[SQL: {_SECRETS.sub(_mask, sanitize_sql(match.group('statement')))}"
    if kind == "parameters":
        return f"[parameters: {REDACTED}]"
    return {"jwt": "[jwt]", "email": "[email]", "apikey": "[api-key]", "surrogate": "\ufffd"}.get(
        kind or "", REDACTED
    )


@functools.lru_cache(maxsize=4096)
def is_sensitive_key(key: str) -> bool:
    """True when ``key`` names a value that is secret as a whole (``db.password``, ``Cookie``).

    Cached: attribute keys come from a small set and every span asks about each.
    """
    return key not in _SAFE_KEYS and _SENSITIVE_KEY.search(key) is not None


#: Short texts found clean. Attribute values recur (methods, routes, addresses,
#: user agents), and a dictionary look-up costs a tenth of the searches below.
#: Emptied when full: values seen once (request ids) then cost a refill, not memory.
_CLEAN_TEXTS: dict[str, None] = {}
_CLEAN_TEXTS_MAX = 4096
_CLEAN_TEXT_LENGTH = 64


def scrub_text(text: str) -> str:
    """Mask every secret found inside ``text``; text without one comes back unchanged."""
    if text in _CLEAN_TEXTS:
        return text
    if _MAYBE_SECRET.search(text) is None or _LIKELY_SECRET.search(text) is None:
        if len(text) <= _CLEAN_TEXT_LENGTH and type(text) is str:
            if len(_CLEAN_TEXTS) >= _CLEAN_TEXTS_MAX:
                _CLEAN_TEXTS.clear()
            _CLEAN_TEXTS[text] = None
        return text
    return _TEXT_PATTERNS.sub(_mask, text)


_SQL_LITERALS = re.compile(
    r"'(?:[^']|'')*'"  # 'string' with '' escapes
    r"|(?<![\w$.])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b"  # numbers not inside identifiers
    r"|\b0x[0-9a-fA-F]+\b"
)
_IN_LIST = re.compile(r"(?i)\bIN\s*\(\s*\?(?:\s*,\s*\?)+\s*\)")

#: Span attribute keys holding a SQL statement (old and new semantic conventions).
SQL_KEYS = frozenset({"db.statement", "db.query.text"})


def sanitize_sql(statement: str) -> str:
    """Replace string and numeric literals by ``?`` and ``IN (?, ?, …)`` by ``IN (?)``.

    Bound parameters (``?``, ``%s``, ``:name``, ``$1``) are left alone; the
    values of those never reach a span.
    """
    return _IN_LIST.sub("IN (?)", _SQL_LITERALS.sub("?", statement))


#: Levels of nesting :func:`scrub_value` goes into; anything deeper is masked as a whole.
_MAX_DEPTH = 8


def scrub_value(key: str, value: Any, depth: int = 0) -> Any:
    """``value`` of ``key`` with its secrets masked.

    Span attributes are strings, numbers and lists of them. A log field may be
    anything: a dict of request headers, a list of pairs, an exception. So
    mappings and sequences are scrubbed item by item (a mapping's keys count as
    keys), at most :data:`_MAX_DEPTH` levels deep (cyclic data included), and
    any other object becomes its ``repr`` — the text the JSON line shows —
    scrubbed. Strings and numbers come back as they are when clean.
    """
    if is_sensitive_key(key):
        return REDACTED
    if isinstance(value, str):
        return sanitize_sql(scrub_text(value)) if key in SQL_KEYS else scrub_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: scrub_value(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, tuple | list):
        items = [scrub_value(key, item, depth + 1) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    return scrub_text(repr(value))


def scrub_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A scrubbed copy of ``attributes``, or ``None`` when nothing needed masking.

    Returning ``None`` for the common clean case lets callers keep the
    original object and allocate nothing.
    """
    if not attributes:
        return None
    scrubbed = None
    for key, value in attributes.items():
        # Most values are texts already found clean, under ordinary keys: what
        # scrub_value() would find, without its calls (a third of the time).
        if (
            type(value) is str
            and value in _CLEAN_TEXTS
            and key not in SQL_KEYS
            and not is_sensitive_key(key)
        ):
            continue
        clean = scrub_value(key, value)
        if clean is value or clean == value:
            continue
        if scrubbed is None:
            scrubbed = dict(attributes)
        scrubbed[key] = clean
    return scrubbed
