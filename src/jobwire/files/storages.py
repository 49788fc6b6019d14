"""The file storages, chosen by ``files_url`` (``JOBWIRE_FILES_URL``) with
:func:`open_storage`:

- none (the default): :class:`DatabaseStorage`, the bytes in the job database's
  ``jobwire_file_chunks`` table, so every server of a scaled deployment serves them with
  nothing more to share;
- ``file:///var/lib/jobwire/files``: a directory (one machine, or a shared mount);
- ``s3://bucket/prefix``: an S3-compatible bucket (``pip install 'jobwire[s3]'``).
  Credentials, region and endpoint come from the standard AWS environment variables
  (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``…) or from the
  URL's query: ``?endpoint_url=http://minio:9000&region=eu-west-1&profile=p&anon=true``.

Both URLs go through fsspec (:class:`FsspecStorage`), imported only when one is used.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ..errors import ConfigurationError, MissingDependency
from . import CHUNK, FileStorage

if TYPE_CHECKING:
    from ..store import Store
    from ..store.base import BlobStore

#: Bytes an S3 upload buffers before it sends a part (S3's parts are at least 5 MiB).
UPLOAD_PART = 5 * CHUNK
#: URL query options passed on to s3fs, and the keyword each becomes.
S3_OPTIONS = {"endpoint_url": "endpoint_url", "profile": "profile", "anon": "anon"}


class DatabaseStorage(FileStorage):
    """The bytes in the job database (``store.blobs``), in chunks: the default."""

    def __init__(self, blobs: BlobStore, url: str = "database") -> None:
        self.blobs = blobs
        self.url = url

    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        self.blobs.put_blob(key, chunks)

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return self.blobs.blob(key, start, end)

    def delete(self, keys: Sequence[str]) -> None:
        self.blobs.delete_blobs(keys)


class FsspecStorage(FileStorage):
    """The bytes as files under a root of an fsspec file system (a directory, a bucket)."""

    def __init__(self, url: str, fs: Any, root: str) -> None:
        self.url = url
        self.fs = fs
        self.root = root.rstrip("/")
        self.local = "file" in _protocols(fs)

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        path = self._path(key)
        if self.local:
            self.fs.makedirs(self.fs._parent(path), exist_ok=True)
        f = self.fs.open(path, "wb", **({} if self.local else {"block_size": UPLOAD_PART}))
        try:
            for chunk in chunks:
                f.write(chunk)
        except BaseException:
            self._abandon(f, path)
            raise
        f.close()

    def _abandon(self, f: Any, path: str) -> None:
        """Leave nothing of a write that failed midway. An S3 upload is aborted, not
        completed (closing it would store the part already sent)."""
        discard = None if self.local else getattr(f, "discard", None)
        try:
            if discard is not None:
                discard()
        finally:
            if discard is not None:
                f.closed = True  # closed without finishing the upload
            else:
                f.close()
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(path)

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self._path(key)
        size = int(self.fs.info(path)["size"])  # FileNotFoundError when it is not there
        start = max(start, 0)
        end = size if end is None else min(end, size)
        return self._chunks(path, start, end)

    def _chunks(self, path: str, start: int, end: int) -> Iterator[bytes]:
        if start >= end:
            return
        options = {} if self.local else {"block_size": CHUNK, "cache_type": "none"}
        with self.fs.open(path, "rb", **options) as f:
            f.seek(start)
            left = end - start
            while left > 0:
                data = f.read(min(CHUNK, left))
                if not data:
                    return
                left -= len(data)
                yield data

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            path = self._path(key)
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(path)
            if self.local:
                self._prune(path)

    def _prune(self, path: str) -> None:
        """Remove the directories a key made (``job/attempt/``) once they are empty."""
        parent = os.path.dirname(path)
        for _ in range(2):
            if not parent.startswith(self.root + "/"):
                return
            try:
                os.rmdir(parent)
            except OSError:
                return  # not empty (another file of the job), or already gone
            parent = os.path.dirname(parent)


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _fsspec(install: str) -> Any:
    try:
        import fsspec
    except ImportError as exc:
        raise MissingDependency(
            f"Files at a file:// or s3:// URL need fsspec: pip install {install}"
        ) from exc
    return fsspec


def _s3(url: str, netloc: str, path: str, query: str) -> FsspecStorage:
    fsspec = _fsspec("'jobwire[s3]'")
    try:
        import s3fs  # noqa: F401 - fsspec finds it by the s3 protocol
    except ImportError as exc:
        raise MissingDependency(
            "Files in an S3 bucket need s3fs: pip install 'jobwire[s3]'"
        ) from exc
    if not netloc:
        raise ConfigurationError(f"Expected files_url 's3://bucket/prefix', but got {url!r}")
    options: dict[str, Any] = {}
    for name, value in parse_qsl(query):
        if name == "region":
            options.setdefault("client_kwargs", {})["region_name"] = value
        elif name in S3_OPTIONS:
            options[S3_OPTIONS[name]] = (
                value.lower() in ("1", "true", "yes") if name == "anon" else value
            )
        else:
            raise ConfigurationError(
                f"Unknown option {name!r} in files_url {url!r}: expected "
                "endpoint_url, region, profile or anon (credentials come from the AWS "
                "environment variables)"
            )
    fs = fsspec.filesystem("s3", **options)
    return FsspecStorage(url, fs, f"{netloc}{path}")


def open_storage(url: str | None, store: Store) -> FileStorage:
    """The file storage for ``url`` (``files_url``): None or ``database`` for the job
    database (``store.blobs``), ``file:///dir`` or ``s3://bucket/prefix``."""
    if url is None or url.strip() in ("", "database"):
        return DatabaseStorage(store.blobs)
    parts = urlsplit(url)
    if parts.scheme == "file":
        fsspec = _fsspec("fsspec (or 'jobwire[s3]', which brings it)")
        root = os.path.abspath(parts.netloc + parts.path) if parts.netloc else parts.path
        if not root or root == "/":
            raise ConfigurationError(f"Expected files_url 'file:///a/directory', but got {url!r}")
        os.makedirs(root, exist_ok=True)
        return FsspecStorage(url, fsspec.filesystem("file"), root)
    if parts.scheme == "s3":
        return _s3(url, parts.netloc, parts.path, parts.query)
    raise ConfigurationError(
        "Expected files_url 'file:///a/directory' or 's3://bucket/prefix' (or none: the "
        f"job database), but got {url!r}"
    )
