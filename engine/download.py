"""Download the four MNIST files into a data folder, verifying each before it is kept.

Each file is streamed from the first mirror that serves it intact into a temporary file in
the data folder, and renamed into place only after the SHA-256 of its decompressed content
matches the table, so a failed, interrupted or cancelled download never leaves a
half-written file under an MNIST name. What the server sent is stored unchanged: gzip
content as NAME.gz, uncompressed content as NAME without .gz (load_mnist accepts both).
Files already present and valid are not downloaded again.
"""

import os
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
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
DOWNLOAD_CHUNK_BYTES = 64 * 1024
TEMP_FILE_SUFFIX = ".part"

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
) -> list[Path]:
    """Make sure every file of `files` is present and valid in `folder`, downloading if not.

    Creates `folder` if missing. For each file not already valid, tries `mirrors` in turn
    (URL = mirror + file name) with a `timeout` in seconds per connect or read.
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
    downloader = _Downloader(folder, tuple(mirrors), progress, timeout, cancel)
    stored_paths = []
    for name, expected in files.items():
        _raise_if_cancelled(cancel, name)
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
        digest = digest_file(path)
    except DataError as error:
        return str(error)
    return expected.mismatch(digest)


@dataclass(frozen=True)
class _Downloader:
    """Settings shared by every file of one download_mnist call."""

    folder: Path
    mirrors: tuple[str, ...]
    progress: ProgressCallback | None
    timeout: float
    cancel: threading.Event | None

    def fetch(self, name: str, expected: MnistFile) -> Path:
        """Download file `name` from the first mirror serving it intact; return its path."""
        failures = []
        for mirror in self.mirrors:
            _raise_if_cancelled(self.cancel, name)
            url = mirror if mirror.endswith("/") else mirror + "/"
            url += name
            try:
                return self._fetch_from(url, name, expected)
            except _MirrorFailure as failure:
                failures.append(f"  {url}: {failure.reason}")
            except OSError as error:
                # Network errors became _MirrorFailure already, so this is the local disk.
                raise DownloadError(f"cannot save {name} in {self.folder}: {error}") from error
        raise DownloadError(f"could not download {name} from any mirror:\n" + "\n".join(failures))

    def _fetch_from(self, url: str, name: str, expected: MnistFile) -> Path:
        """Download `url` via a temp file and move it into place once verified."""
        try:
            response = urllib.request.urlopen(url, timeout=self.timeout)
        except (OSError, HTTPException, ValueError) as error:
            if isinstance(error, urllib.error.HTTPError):
                error.close()
            raise _MirrorFailure(_describe_network_error(error, self.timeout)) from error
        with response:
            descriptor, temp_name = tempfile.mkstemp(
                dir=self.folder, prefix=f".{name}.", suffix=TEMP_FILE_SUFFIX
            )
            temp_path = Path(temp_name)
            try:
                with os.fdopen(descriptor, "wb") as temp_file:
                    digest = digest_chunks(self._received_chunks(response, temp_file, name))
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
                # A no-op once the verified file has been moved into place.
                temp_path.unlink(missing_ok=True)
        _remove_other_copy(self.folder, name, stored_path)
        return stored_path

    def _received_chunks(
        self, response: HTTPResponse, temp_file: BinaryIO, name: str
    ) -> Iterator[bytes]:
        """Yield the response body in chunks, saving each to `temp_file` and reporting progress."""
        total = _content_length(response)
        received = 0
        self._report(name, received, total)
        while True:
            _raise_if_cancelled(self.cancel, name)
            try:
                chunk = response.read(DOWNLOAD_CHUNK_BYTES)
            except (OSError, HTTPException) as error:
                raise _MirrorFailure(_describe_network_error(error, self.timeout)) from error
            if not chunk:
                break
            temp_file.write(chunk)
            received += len(chunk)
            self._report(name, received, total)
            yield chunk
        if total is not None and received != total:
            raise _MirrorFailure(f"connection closed after {received} of {total} bytes")

    def _report(self, name: str, received: int, total: int | None) -> None:
        """Pass download progress in bytes to the caller's callback, if any."""
        if self.progress is not None:
            self.progress(name, received, total)


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
