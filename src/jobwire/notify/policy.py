"""What notifications may do, decided purely (no I/O, no clock of its own): which URLs and
addresses are allowed, what an answer means, and when to try again."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from ..store.notifying import AttemptOutcome

#: Longest notify_url accepted.
MAX_URL = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
#: The notify_url the HTTP API takes: ``http(s)``, a host *name* (its last label starts with
#: a letter, so never an IP address, nor a literal private one), an optional port, then
#: printable ASCII. Every URL it matches passes :func:`check_url` (a test checks it).
URL_PATTERN = (
    r"^https?://(?:[A-Za-z0-9._~%!$&'()*+,;=:-]+@)?"
    r"(?:[A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*\.?"
    rf"(?::{_PORT})?(?:[/?#][!-~]*)?$"
)
#: NAT64's well-known prefix: an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def check_url(url: str, *, allow_private: bool) -> str:
    """``url`` when it may be notified: ``http`` or ``https``, a host, at most 2048
    characters of printable text without spaces; unless ``allow_private``, not a literal
    private, loopback, link-local, multicast or reserved IP address (a host *name* is
    resolved, and refused the same way, each time the notification is sent).
    ValueError saying what is expected otherwise."""
    if not isinstance(url, str) or not url:
        raise ValueError("Expected an http(s) URL such as 'https://example.com/hooks/jobs'")
    if len(url) > MAX_URL or not url.isprintable() or any(c.isspace() for c in url):
        raise ValueError(f"Expected a URL of at most {MAX_URL} printable characters without spaces")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ValueError(f"Expected an http(s) URL, but got {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"Expected an http:// or https:// URL, but got {url[:100]!r}")
    if not host:
        raise ValueError(f"Expected a URL with a host name, but got {url[:100]!r}")
    if port == 0:
        raise ValueError(f"Expected a URL with a port from 1 to 65535, but got {url[:100]!r}")
    if not allow_private:
        address = _literal(host)
        if address is not None and not address_allowed(address):
            raise ValueError(
                f"{host} is a private, loopback, link-local or reserved address: notifications "
                "go to public addresses only (set notify_allow_private to allow it)"
            )
    return url


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def address_allowed(address: IPAddress | str) -> bool:
    """Whether a notification may connect to ``address``: a public unicast address, not a
    private, loopback, link-local, multicast, reserved, unspecified or shared (CGNAT) one.
    An IPv4 address inside an IPv6 one (mapped, 6to4, NAT64) is judged as itself."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return address_allowed(inner)
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_private
        or ip.is_reserved
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
    )


def outcome_of(status_code: int) -> AttemptOutcome:
    """What an answer means: 2xx delivered, 410 gone (the receiver asks for no more), any
    other answer is tried again."""
    if 200 <= status_code < 300:
        return "delivered"
    if status_code == 410:
        return "gone"
    return "retry"


def retry_delay(attempts: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: ``base`` doubled at
    each attempt up to ``cap``, times a random factor from 0.5 to 1 (jitter, so that the
    deliveries that failed together do not all come back at once)."""
    exponent = min(max(attempts - 1, 0), 60)
    return min(cap, base * 2.0**exponent) * (0.5 + rng() / 2)


def next_attempt(
    created_at: float,
    attempts: int,
    now: float,
    *,
    base: float,
    cap: float,
    window: float,
    rng: Callable[[], float],
) -> float | None:
    """When to try a delivery made at ``created_at`` again, after ``attempts`` failed
    attempts, the last one ending at ``now``; None once that would be more than ``window``
    seconds after it was made (it failed for good)."""
    at = now + retry_delay(attempts, base, cap, rng)
    return at if at <= created_at + window else None


def redact(url: str) -> str:
    """``url`` without what may be a credential (user and password, query, fragment), for
    people who may see a job but not its notify_url's secrets."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = "…" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
