"""The fetch vocabulary: how a poll of one feed ended (`FetchOutcome`) and why it failed (`Reason`).

Media Cloud's rss-fetcher keeps a fixed, low-cardinality status beside a human detail; so do we.
Both are `str`-valued enums: the database stores the same strings as ever (`fetch_events.outcome`,
`fetch_events.reason`, `feeds.last_error_reason`), so no migration is needed, and a comparison
with a plain string still holds.

Every reason is declared with its kind (HARD, SOFT or TEMP), so a new reason cannot be added
without saying how the schedule treats it, and an unknown one is an error, never a silent SOFT.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class FetchOutcome(StrEnum):
    """How one poll of a feed ended: three successes, three kinds of failure."""

    OK = "ok"  # a new body, parsed and stored
    NOT_MODIFIED = "not_modified"  # 304 to a conditional request
    UNCHANGED = "unchanged"  # the same bytes as last time (a server that ignores validators)
    HARD = "HARD"  # the feed (or its redirect) is wrong, not just unlucky
    SOFT = "SOFT"  # anything else that may mend itself
    TEMP = "TEMP"  # the server or resolver asked for time

    @property
    def succeeded(self) -> bool:
        return self in _SUCCESSES

    @property
    def failed(self) -> bool:
        return not self.succeeded

    @property
    def weight(self) -> float:
        """How much one failure of this kind stretches the back-off (successes: 0)."""
        return _WEIGHTS.get(self, 0.0)

    @classmethod
    def successes(cls) -> tuple[FetchOutcome, ...]:
        return _SUCCESSES

    @classmethod
    def failures(cls) -> tuple[FetchOutcome, ...]:
        return tuple(o for o in cls if o.failed)


_SUCCESSES = (FetchOutcome.OK, FetchOutcome.NOT_MODIFIED, FetchOutcome.UNCHANGED)
_WEIGHTS = {FetchOutcome.HARD: 2.0, FetchOutcome.SOFT: 1.0, FetchOutcome.TEMP: 0.5}

_H, _S, _T = FetchOutcome.HARD, FetchOutcome.SOFT, FetchOutcome.TEMP


class Reason(StrEnum):
    """Why a poll failed; each reason carries the kind of failure it is (`kind`, `weight`)."""

    kind: FetchOutcome

    def __new__(cls, value: str, kind: FetchOutcome) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.kind = kind
        return member

    # the address or the redirect is wrong
    GONE = "gone", _H  # 410: the feed is disabled
    BAD_URL = "bad_url", _H
    BAD_REDIRECT = "bad_redirect", _H
    BLOCKED_ADDRESS = "blocked_address", _H
    # the server said no
    NOT_FOUND = "not_found", _S
    FORBIDDEN = "forbidden", _S
    HTTP_ERROR = "http_error", _S
    SERVER_ERROR = "server_error", _S
    RATE_LIMITED = "rate_limited", _T
    UNAVAILABLE = "unavailable", _T
    # the network
    DNS_TEMPORARY = "dns_temporary", _T
    DNS_UNKNOWN_HOST = "dns_unknown_host", _S
    CONNECT_FAILED = "connect_failed", _S
    PROXY_ERROR = "proxy_error", _S
    NETWORK_ERROR = "network_error", _S
    TIMEOUT = "timeout", _S
    TLS = "tls", _S
    TOO_MANY_REDIRECTS = "too_many_redirects", _S
    REDIRECT_LOOP = "redirect_loop", _S
    # the response
    TOO_LARGE = "too_large", _S
    HEADER_TOO_LARGE = "header_too_large", _S
    TRUNCATED = "truncated", _S
    BAD_ENCODING = "bad_encoding", _S
    EMPTY = "empty", _S
    PROTOCOL_ERROR = "protocol_error", _S
    # the body (parse workers)
    NOT_A_FEED = "not_a_feed", _S
    PARSE_ERROR = "parse_error", _S
    MALFORMED = "malformed", _S
    ENTITY_EXPANSION = "entity_expansion", _S
    PARSE_TIMEOUT = "parse_timeout", _S
    PARSE_MEMORY = "parse_memory", _S
    # our side
    INGEST_ERROR = "ingest_error", _S  # a bug on one feed's bytes
    STORE_ERROR = "store_error", _S  # the store refused to write (only ever in a round's summary)

    @property
    def weight(self) -> float:
        return self.kind.weight

    @classmethod
    def of_parse_failure(cls, text: str | None) -> Reason:
        """The reason a parse worker gave, or PARSE_ERROR for one this version does not know
        (a worker of another version): said as a parse error, not guessed."""
        member = cls._value2member_map_.get(text or "")
        return member if isinstance(member, cls) else cls.PARSE_ERROR
