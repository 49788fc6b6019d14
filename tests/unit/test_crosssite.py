"""The rules behind the cross-site checks: which Host names are served, which page origins
are the server's own, and how the settings read their lists."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jobwire import App
from jobwire.cli import _allow_cross_site
from jobwire.server.crosssite import host_allowed, same_origin, split_host
from jobwire.settings import Settings


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("LocalHost", ("localhost", None)),
        ("localhost.:80", ("localhost", 80)),
        ("[::1]:8000", ("::1", 8000)),
        ("jobs.example.com", ("jobs.example.com", None)),
        ("", None),
        ("127.0.0.1:port", None),
        ("127.0.0.1:99999", None),
        ("evil.example@127.0.0.1", None),
        ("127.0.0.1/path", None),
    ],
)
def test_split_host(header: str, expected: tuple[str, int | None] | None) -> None:
    assert split_host(header) == expected


@pytest.mark.parametrize("name", ["127.0.0.1", "127.9.8.7", "localhost", "::1"])
def test_loopback_names_are_always_served(name: str) -> None:
    assert host_allowed(name, [])


@pytest.mark.parametrize(
    ("name", "patterns", "expected"),
    [
        ("rebind.evil.example", [], False),
        ("0.0.0.0", [], False),
        ("192.168.1.5", [], False),
        ("localhost.evil.example", [], False),
        ("jobs.example.com", ["jobs.example.com"], True),
        ("api.example.com", ["*.example.com"], True),
        ("a.b.example.com", ["*.example.com"], True),
        ("example.com", ["*.example.com"], False),
        ("evilexample.com", ["*.example.com"], False),
        ("jobs.example.com.evil.example", ["jobs.example.com"], False),
        ("anything.example", ["*"], True),
    ],
)
def test_configured_names(name: str, patterns: list[str], expected: bool) -> None:
    assert host_allowed(name, patterns) is expected


@pytest.mark.parametrize(
    ("origin", "host", "expected"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("https://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://localhost:8000", "localhost:8000", True),
        ("http://[::1]:8000", "[::1]:8000", True),
        ("https://jobs.example.com", "jobs.example.com", True),  # behind a TLS proxy
        ("http://jobs.example.com", "jobs.example.com:80", True),
        ("https://jobs.example.com", "jobs.example.com:443", True),
        ("http://127.0.0.1:8001", "127.0.0.1:8000", False),
        ("http://localhost:8000", "127.0.0.1:8000", False),
        ("http://evil.example", "127.0.0.1:8000", False),
        ("http://jobs.example.com:3000", "jobs.example.com", False),
        ("null", "127.0.0.1:8000", False),
        ("file://", "127.0.0.1:8000", False),
        ("ws://127.0.0.1:8000", "127.0.0.1:8000", False),
    ],
)
def test_same_origin(origin: str, host: str, expected: bool) -> None:
    assert same_origin(origin, host) is expected


def test_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBWIRE_ALLOWED_HOSTS", "jobs.example.com, *.Example.org ,")
    monkeypatch.setenv("JOBWIRE_CORS_ORIGINS", '["https://app.example.com/"]')
    settings = Settings()
    assert settings.allowed_hosts == ["jobs.example.com", "*.example.org"]
    assert settings.cors_origins == ["https://app.example.com"]
    monkeypatch.setenv("JOBWIRE_CORS_ORIGINS", "http://localhost:3000,https://app.example.com")
    assert Settings().cors_origins == ["http://localhost:3000", "https://app.example.com"]
    monkeypatch.delenv("JOBWIRE_ALLOWED_HOSTS")
    monkeypatch.delenv("JOBWIRE_CORS_ORIGINS")
    assert Settings().allowed_hosts == Settings().cors_origins == []


@pytest.mark.parametrize(
    "hosts", [["jobs.example.com:8000"], ["http://jobs.example.com"], ["jobs.*.com"], [""]]
)
def test_malformed_host_names_are_refused(hosts: list[str]) -> None:
    with pytest.raises(ValidationError, match="Expected host names"):
        Settings(allowed_hosts=hosts)


@pytest.mark.parametrize(
    "origins", [["app.example.com"], ["https://app.example.com/page"], ["ftp://app.example.com"]]
)
def test_malformed_origins_are_refused(origins: list[str]) -> None:
    with pytest.raises(ValidationError, match="Expected origins"):
        Settings(cors_origins=origins)


def app_with(**settings: object) -> App:
    app = App("sqlite:///:memory:")
    app.settings = Settings.model_validate({**app.settings.model_dump(), **settings})
    return app


def test_serve_adds_its_options_and_the_address_it_binds() -> None:
    app = app_with(allowed_hosts=["a.example.com"])
    _allow_cross_site(app, "192.168.1.5", ["b.example.com"], ["https://app.example.com"])
    assert app.settings.allowed_hosts == ["a.example.com", "b.example.com", "192.168.1.5"]
    assert app.settings.cors_origins == ["https://app.example.com"]
    everywhere = app_with()
    _allow_cross_site(everywhere, "0.0.0.0", [], [])
    assert everywhere.settings.allowed_hosts == []
    with_auth = app_with(auth="token")
    _allow_cross_site(with_auth, "192.168.1.5", [], [])
    assert with_auth.settings.allowed_hosts == []  # with auth, no Host rule unless asked
