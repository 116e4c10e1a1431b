"""Download the four MNIST files into a data folder, verifying each before it is kept.

Each file is streamed from the first mirror that serves it intact into a temporary file in
the data folder, and renamed into place only after the SHA-256 of its decompressed content
matches the table, so a failed, interrupted or cancelled download never leaves a
half-written file under an MNIST name. What the server sent is stored unchanged: gzip
content as NAME.gz, uncompressed content as NAME without .gz (load_mnist accepts both).
Files already present and valid are not downloaded again.

Nothing a server does can make a download unbounded. Every MNIST file has a known size, so a
declared Content-Length far above it is refused before the body is read, and reading stops
as soon as the body (or its decompressed content) grows past it. Each file has an overall
deadline, enforced by a watchdog that shuts the connection down wherever it is waiting
(connecting, TLS, headers, redirects, body), and a stall limit: fewer than STALL_MIN_BYTES
in any `stall_timeout` seconds abandons the mirror. Redirects may not go from https to
plain http. The temporary file is removed on every way out (errors, Ctrl+C, SIGTERM via the
CLI's handler), and temporary files a killed run left behind are removed on the next run.
The SHA-256 of the decompressed content stays the guarantee whichever mirror served it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.client import HTTPException, HTTPResponse
from pathlib import Path
from typing import BinaryIO

from engine.mnist import (
    GZIP_MAGIC,
    GZIP_SUFFIX,
    MNIST_FILES,
    DataError,
    MnistFile,
    digest_chunks,
    digest_file,
    find_mnist_file,
)

DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
DEFAULT_TIMEOUT_SECONDS = 30.0
# MNIST's largest file is 9.9 MB compressed: ten minutes allows a 17 kB/s line.
DEFAULT_DEADLINE_SECONDS = 600.0
STALL_MIN_BYTES = 1024
DOWNLOAD_CHUNK_BYTES = 64 * 1024
TEMP_FILE_SUFFIX = ".part"
# A body may be the gzip or the raw content; gzip of incompressible data is a little larger
# than the data, so allow a small margin over the decompressed size.
SIZE_MARGIN_BYTES = 64 * 1024

# progress(file_name, bytes_done, bytes_total or None when the server does not say)
ProgressCallback = Callable[[str, int, int | None], None]


class DownloadError(DataError):
    """Raised when a file could not be fetched intact from any mirror, or could not be saved."""


class DownloadCancelled(DownloadError):
    """Raised when the caller's cancel event stopped a download."""


class _MirrorFailure(Exception):
    """One mirror could not serve one file intact; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def download_mnist(
    folder: str | os.PathLike,
    mirrors: Sequence[str] = DEFAULT_MIRRORS,
    progress: ProgressCallback | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    cancel: threading.Event | None = None,
    files: Mapping[str, MnistFile] = MNIST_FILES,
    deadline: float = DEFAULT_DEADLINE_SECONDS,
) -> list[Path]:
    """Make sure every file of `files` is present and valid in `folder`, downloading if not.

    Creates `folder` if missing. For each file not already valid, tries `mirrors` in turn
    (URL = mirror + file name). `timeout` in seconds bounds each connect or read and is the
    stall window (fewer than STALL_MIN_BYTES in that time abandons the mirror); `deadline`
    in seconds bounds each attempt at one file from one mirror, whatever the server does.
    `progress(name, bytes_done, bytes_total_or_None)` is called from this thread after each
    chunk received, restarting at 0 for each attempt. Setting `cancel` stops the download
    between chunks with DownloadCancelled. Returns the stored path of every file, in the
    order of `files`. Raises DownloadError, listing every mirror and why it failed, when no
    mirror serves a file intact; nothing half-written is left behind in any case.
    """
    if not mirrors:
        raise ValueError("no mirrors given")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"cannot create data folder {folder}: {error}") from error
    downloader = _Downloader(folder, tuple(mirrors), progress, timeout, cancel, deadline)
    stored_paths = []
    for name, expected in files.items():
        _raise_if_cancelled(cancel, name)
        _remove_stale_temp_files(folder, name)
        existing = find_mnist_file(folder, name)
        if existing is not None and describe_file_problem(existing, expected) is None:
            stored_paths.append(existing)
        else:
            stored_paths.append(downloader.fetch(name, expected))
    return stored_paths


def verify_mnist(
    folder: str | os.PathLike, files: Mapping[str, MnistFile] = MNIST_FILES
) -> dict[str, bool]:
    """Return, for each file name of `files`, whether `folder` holds it with valid content."""
    validity = {}
    for name, expected in files.items():
        path = find_mnist_file(folder, name)
        validity[name] = path is not None and describe_file_problem(path, expected) is None
    return validity


def describe_file_problem(path: str | os.PathLike, expected: MnistFile) -> str | None:
    """Return why the file at `path` does not hold the `expected` content, or None if it does."""
    try:
        digest = digest_file(path, max_size=expected.size)
    except DataError as error:
        return str(error)
    return expected.mismatch(digest)


def max_body_bytes(expected: MnistFile) -> int:
    """Return the most bytes a server may send for a file: raw or gzip, plus a small margin."""
    return expected.size + expected.size // 100 + SIZE_MARGIN_BYTES


@dataclass(frozen=True)
class _Downloader:
    """Settings shared by every file of one download_mnist call."""

    folder: Path
    mirrors: tuple[str, ...]
    progress: ProgressCallback | None
    timeout: float
    cancel: threading.Event | None
    deadline: float

    def fetch(self, name: str, expected: MnistFile) -> Path:
        """Download file `name` from the first mirror serving it intact; return its path."""
        failures = []
        for mirror in self.mirrors:
            _raise_if_cancelled(self.cancel, name)
            url = mirror if mirror.endswith("/") else mirror + "/"
            url += name
            try:
                with _Watchdog(self.deadline) as watchdog:
                    return self._fetch_from(url, name, expected, watchdog)
            except _MirrorFailure as failure:
                failures.append(f"  {url}: {failure.reason}")
            except OSError as error:
                # Network errors became _MirrorFailure already, so this is the local disk.
                raise DownloadError(f"cannot save {name} in {self.folder}: {error}") from error
        raise DownloadError(f"could not download {name} from any mirror:\n" + "\n".join(failures))

    def _fetch_from(self, url: str, name: str, expected: MnistFile, watchdog: _Watchdog) -> Path:
        """Download `url` via a temp file and move it into place once verified."""
        try:
            response = watchdog.opener().open(url, timeout=self.timeout)
        except (OSError, HTTPException, ValueError) as error:
            if isinstance(error, urllib.error.HTTPError):
                error.close()
            raise _MirrorFailure(watchdog.describe(error, self.timeout)) from error
        with response:
            limit = max_body_bytes(expected)
            declared = _content_length(response)
            if declared is not None and declared > limit:
                raise _MirrorFailure(
                    f"the server announced {declared} bytes, more than the {limit} this file"
                    " can have"
                )
            descriptor, temp_name = tempfile.mkstemp(
                dir=self.folder, prefix=f".{name}.", suffix=TEMP_FILE_SUFFIX
            )
            temp_path = Path(temp_name)
            try:
                with os.fdopen(descriptor, "wb") as temp_file:
                    chunks = self._received_chunks(response, temp_file, name, limit, watchdog)
                    digest = digest_chunks(chunks, max_size=expected.size)
                problem = expected.mismatch(digest)
                if problem is not None:
                    raise _MirrorFailure(problem)
                stored_path = self.folder / _stored_name(name, temp_path)
                os.replace(temp_path, stored_path)
            except DownloadCancelled:
                raise
            except DataError as error:
                raise _MirrorFailure(str(error)) from error
            finally:
                # A no-op once the verified file has been moved into place; runs on
                # KeyboardInterrupt and SystemExit too.
                temp_path.unlink(missing_ok=True)
        _remove_other_copy(self.folder, name, stored_path)
        return stored_path

    def _received_chunks(
        self,
        response: HTTPResponse,
        temp_file: BinaryIO,
        name: str,
        limit: int,
        watchdog: _Watchdog,
    ) -> Iterator[bytes]:
        """Yield the response body in chunks, saving each to `temp_file` and reporting progress.

        Stops with _MirrorFailure past `limit` bytes, at the deadline, or when fewer than
        STALL_MIN_BYTES arrive in `timeout` seconds.
        """
        total = _content_length(response)
        received = 0
        window_start, window_received = time.monotonic(), 0
        self._report(name, received, total)
        while True:
            _raise_if_cancelled(self.cancel, name)
            try:
                # read1 returns after one receive, so a trickling server cannot hold a read.
                chunk = response.read1(DOWNLOAD_CHUNK_BYTES)
            except (OSError, HTTPException, ValueError) as error:
                raise _MirrorFailure(watchdog.describe(error, self.timeout)) from error
            if watchdog.expired:
                raise _MirrorFailure(watchdog.describe(None, self.timeout))
            if not chunk:
                break
            received += len(chunk)
            if received > limit:
                raise _MirrorFailure(
                    f"the server sent more than the {limit} bytes this file can have"
                )
            temp_file.write(chunk)
            now = time.monotonic()
            if now - window_start >= self.timeout:
                if received - window_received < STALL_MIN_BYTES:
                    raise _MirrorFailure(
                        f"stalled: fewer than {STALL_MIN_BYTES} bytes in {self.timeout:g} s"
                    )
                window_start, window_received = now, received
            self._report(name, received, total)
            yield chunk
        if total is not None and received != total:
            raise _MirrorFailure(f"connection closed after {received} of {total} bytes")

    def _report(self, name: str, received: int, total: int | None) -> None:
        """Pass download progress in bytes to the caller's callback, if any."""
        if self.progress is not None:
            self.progress(name, received, total)


@dataclass
class _Watchdog:
    """Enforce one attempt's deadline by shutting down every socket it opened when time is up.

    `opener()` returns a urllib opener whose connections register their sockets here, so
    the deadline holds while connecting, during the TLS handshake, while reading headers,
    across redirects and while reading the body.
    """

    seconds: float
    expired: bool = False
    _sockets: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _timer: threading.Timer | None = None

    def __enter__(self) -> _Watchdog:
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._timer is not None
        self._timer.cancel()

    def opener(self) -> urllib.request.OpenerDirector:
        """Return an opener for http and https whose sockets this watchdog can shut down."""
        return urllib.request.build_opener(
            _WatchedHTTPHandler(self), _WatchedHTTPSHandler(self), _NoDowngradeRedirectHandler()
        )

    def track(self, sock: socket.socket) -> None:
        """Remember a socket to shut down at the deadline (at once if already past it)."""
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut_down(sock)

    def describe(self, error: BaseException | None, timeout: float) -> str:
        """Return a short human reason for a failed request, naming the deadline if it hit."""
        if self.expired:
            return f"took longer than the {self.seconds:g} s allowed for one file"
        assert error is not None
        return _describe_network_error(error, timeout)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut_down(sock)


def _shut_down(sock: socket.socket) -> None:
    """Wake up whatever waits on `sock`: it sees the end of the stream at once."""
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


def _watched_connection(
    base: type, watchdog: _Watchdog
) -> Callable[..., http.client.HTTPConnection]:
    """Return a factory of `base` connections whose sockets `watchdog` tracks."""

    def create(*args: object, **kwargs: object) -> http.client.HTTPConnection:
        connection = base(*args, **kwargs)
        plain_create = connection._create_connection

        def create_and_track(*socket_args: object, **socket_kwargs: object) -> socket.socket:
            sock = plain_create(*socket_args, **socket_kwargs)
            watchdog.track(sock)
            return sock

        connection._create_connection = create_and_track
        return connection

    return create


class _WatchedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self._connection = _watched_connection(http.client.HTTPConnection, watchdog)

    def http_open(self, request: urllib.request.Request) -> HTTPResponse:
        return self.do_open(self._connection, request)


class _WatchedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self._connection = _watched_connection(http.client.HTTPSConnection, watchdog)

    def https_open(self, request: urllib.request.Request) -> HTTPResponse:
        return self.do_open(self._connection, request, context=self._context)


class _NoDowngradeRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects as urllib does, except from https to plain http."""

    def redirect_request(
        self,
        request: urllib.request.Request,
        fp: object,
        code: int,
        message: str,
        headers: object,
        new_url: str,
    ) -> urllib.request.Request | None:
        if request.full_url.startswith("https:") and not new_url.startswith("https:"):
            raise urllib.error.URLError(f"refused a redirect from https to {new_url}")
        return super().redirect_request(request, fp, code, message, headers, new_url)


def _raise_if_cancelled(cancel: threading.Event | None, name: str) -> None:
    """Raise DownloadCancelled if the caller has set `cancel`."""
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled(f"download of {name} cancelled")


def _content_length(response: HTTPResponse) -> int | None:
    """Return the response's Content-Length in bytes, or None if absent or malformed."""
    value = response.headers.get("Content-Length", "")
    return int(value) if value.isdigit() else None


def _stored_name(name: str, temp_path: Path) -> str:
    """Return `name` if the downloaded file is gzip, else `name` without its .gz suffix."""
    with temp_path.open("rb") as file:
        is_gzip = file.read(len(GZIP_MAGIC)) == GZIP_MAGIC
    return name if is_gzip else name.removesuffix(GZIP_SUFFIX)


def _remove_other_copy(folder: Path, name: str, stored_path: Path) -> None:
    """Delete the other-format copy of `name`, an invalid leftover that could shadow the new one."""
    for candidate in (name, name.removesuffix(GZIP_SUFFIX)):
        path = folder / candidate
        if path != stored_path:
            path.unlink(missing_ok=True)


def _remove_stale_temp_files(folder: Path, name: str) -> None:
    """Delete temporary files of `name` that a killed earlier download left in `folder`."""
    for path in folder.glob(f".{name}.*{TEMP_FILE_SUFFIX}"):
        path.unlink(missing_ok=True)


def _describe_network_error(error: BaseException, timeout: float) -> str:
    """Return a short human reason for a failed request, e.g. "HTTP 404 Not Found"."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__
