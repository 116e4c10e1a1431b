"""Tests for engine.download against a real HTTP server on 127.0.0.1 serving tiny fake files.

The checksum table is injected (`files=`) so fake files stand in for the real MNIST; the
real mirrors are never contacted.
"""

import functools
import gzip
import hashlib
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.download import (
    DEFAULT_MIRRORS,
    DOWNLOAD_CHUNK_BYTES,
    TEMP_FILE_SUFFIX,
    DownloadCancelled,
    DownloadError,
    _NoDowngradeRedirectHandler,
    download_mnist,
    verify_mnist,
)
from engine.mnist import DataError, MnistFile, load_mnist

REPO_ROOT = Path(__file__).resolve().parent.parent
FAKE_TRAIN_COUNT = 200  # enough random images that train-images spans several chunks
FAKE_TEST_COUNT = 2
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
STALL_RELEASE_SECONDS = 5.0
SHORT_TIMEOUT_SECONDS = 0.3
SERVER_POLL_SECONDS = 0.01  # how quickly the fake server notices shutdown
HOSTILE_MAX_BYTES = 64 * 2**20  # what a hostile mirror sends at most, should the client not stop
TRICKLE_INTERVAL_SECONDS = 0.05
STALL_SECONDS = 0.5
DEADLINE_SECONDS = 1.5
# The slowest a hostile mirror may keep the downloader: its deadline or stall window, plus
# scheduling slack on a busy machine.
SECONDS_BOUND = 6.0


def idx_bytes(dims: tuple[int, ...], data: bytes) -> bytes:
    """Return an unsigned-byte IDX file's bytes for `dims` and row-major `data`."""
    return struct.pack(f">I{len(dims)}I", 0x0800 | len(dims), *dims) + data


@functools.cache
def fake_contents() -> dict[str, bytes]:
    """Return decompressed contents of a tiny MNIST keyed by the real file names."""
    pixels = random.Random(0).randbytes
    return {
        TRAIN_IMAGES: idx_bytes((FAKE_TRAIN_COUNT, 28, 28), pixels(FAKE_TRAIN_COUNT * 784)),
        "train-labels-idx1-ubyte.gz": idx_bytes(
            (FAKE_TRAIN_COUNT,), bytes(i % 10 for i in range(FAKE_TRAIN_COUNT))
        ),
        "t10k-images-idx3-ubyte.gz": idx_bytes(
            (FAKE_TEST_COUNT, 28, 28), pixels(FAKE_TEST_COUNT * 784)
        ),
        "t10k-labels-idx1-ubyte.gz": idx_bytes((FAKE_TEST_COUNT,), bytes([7, 2])),
    }


@functools.cache
def fake_files() -> dict[str, MnistFile]:
    """Return the checksum table of the fake contents, standing in for MNIST_FILES."""
    return {
        name: MnistFile(hashlib.sha256(content).hexdigest(), len(content))
        for name, content in fake_contents().items()
    }


def corrupted(content: bytes) -> bytes:
    """Return `content` with its last byte changed, so only the checksum can tell."""
    return content[:-1] + bytes([content[-1] ^ 0xFF])


@dataclass
class FakeMirrors:
    """A local HTTP server whose first path segment picks how a mirror behaves."""

    base_url: str
    requested_paths: list[str] = field(default_factory=list)

    def url(self, behaviour: str) -> str:
        """Return the mirror URL (with trailing slash) for `behaviour`."""
        return f"{self.base_url}/{behaviour}/"


def serve_body(behaviour: str, name: str) -> tuple[bytes, int | None] | None:
    """Return (body, Content-Length to announce or None) for `name` from a `behaviour` mirror."""
    if name not in fake_contents():
        return None
    content = fake_contents()[name]
    compressed = gzip.compress(content)
    compressed_corrupt = gzip.compress(corrupted(content))
    bodies = {
        "good": (compressed, len(compressed)),
        "raw": (content, len(content)),
        "no-length": (compressed, None),
        "bad-checksum": (compressed_corrupt, len(compressed_corrupt)),
        "broken-gzip": (compressed[:-40] + bytes(40), len(compressed)),
        "short": (compressed[:100], None),
        "cut": (compressed[:100], len(compressed)),
    }
    return bodies.get(behaviour)


def send_endless(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """Send a body with no Content-Length that never ends (until HOSTILE_MAX_BYTES)."""
    handler.send_response(200)
    handler.end_headers()
    send_until_stopped(handler, stop, b"")


def send_gzip_bomb(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """Send a gzip stream of zeros that never ends: few bytes on the wire, endless content."""
    handler.send_response(200)
    handler.end_headers()
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(2**20)
    sent = 0
    try:
        while sent < HOSTILE_MAX_BYTES and not stop.is_set():
            piece = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
            handler.wfile.write(piece)
            sent += len(piece)
    except OSError:
        pass


def send_lying_length(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """Announce a terabyte, then send bytes until the client gives up."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(10**12))
    handler.end_headers()
    send_until_stopped(handler, stop, b"")


def send_empty_members(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """Send empty gzip members for ever: the body grows while its content stays empty."""
    handler.send_response(200)
    handler.end_headers()
    member = gzip.compress(b"")
    send_until_stopped(handler, stop, member * (DOWNLOAD_CHUNK_BYTES // len(member)), block=None)


def send_until_stopped(
    handler: BaseHTTPRequestHandler,
    stop: threading.Event,
    head: bytes,
    block: bytes | None = bytes(DOWNLOAD_CHUNK_BYTES),
) -> None:
    """Write `head`, then `block` (default zeros; None: `head` again) until the client hangs
    up, `stop` is set or HOSTILE_MAX_BYTES are sent."""
    block = head if block is None else block
    sent = 0
    try:
        handler.wfile.write(head)
        while sent < HOSTILE_MAX_BYTES and not stop.is_set():
            handler.wfile.write(block)
            sent += len(block)
    except OSError:
        pass  # the downloader hung up, as it should


def send_trickle(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """Send one byte every TRICKLE_INTERVAL_SECONDS of a body that claims 1000 bytes."""
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    trickle(handler, stop, b"\x1f" * 1000)


def send_trickled_headers(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """Send the status line and headers one byte at a time, for ever (capped)."""
    trickle(handler, stop, b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"a" * 60_000)


def send_steady_flow(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """Send 4 kB every TRICKLE_INTERVAL_SECONDS: fast enough not to stall, endless in time."""
    handler.send_response(200)
    handler.end_headers()
    trickle(handler, stop, bytes(4096 * 1000), piece=4096)


def trickle(
    handler: BaseHTTPRequestHandler, stop: threading.Event, body: bytes, piece: int = 1
) -> None:
    """Write `body` `piece` bytes at a time, pausing between pieces, until stopped or refused."""
    try:
        for start in range(0, len(body), piece):
            if stop.wait(TRICKLE_INTERVAL_SECONDS):
                return
            handler.wfile.write(body[start : start + piece])
            handler.wfile.flush()
    except OSError:
        pass


def send_redirect(
    to_behaviour: str | None, handler: BaseHTTPRequestHandler, stop: threading.Event
) -> None:
    """Redirect to the same file on the `to_behaviour` mirror (None: to this very URL)."""
    name = handler.path.rsplit("/", 1)[1]
    handler.send_response(302)
    handler.send_header(
        "Location", handler.path if to_behaviour is None else f"/{to_behaviour}/{name}"
    )
    handler.send_header("Content-Length", "0")
    handler.end_headers()


HOSTILE_BEHAVIOURS = {
    "endless": send_endless,
    "gzip-bomb": send_gzip_bomb,
    "lying-length": send_lying_length,
    "empty-members": send_empty_members,
    "trickle": send_trickle,
    "trickled-headers": send_trickled_headers,
    "steady-flow": send_steady_flow,
    "redirect-loop": functools.partial(send_redirect, None),
    "redirect-to-endless": functools.partial(send_redirect, "endless"),
    "redirect-to-good": functools.partial(send_redirect, "good"),
}


@pytest.fixture
def mirrors() -> Iterator[FakeMirrors]:
    """Run the fake mirror server in a thread for one test."""
    release_stalled = threading.Event()
    requested_paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested_paths.append(self.path)
            _, behaviour, name = self.path.split("/", 2)
            if behaviour in HOSTILE_BEHAVIOURS:
                HOSTILE_BEHAVIOURS[behaviour](self, release_stalled)
                return
            if behaviour == "stall":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"\x1f\x8b")
                self.wfile.flush()
                release_stalled.wait(STALL_RELEASE_SECONDS)
                return
            served = serve_body(behaviour, name)
            if served is None:
                self.send_error(404)
                return
            body, announced_length = served
            self.send_response(200)
            if announced_length is not None:
                self.send_header("Content-Length", str(announced_length))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SERVER_POLL_SECONDS}, daemon=True
    )
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield FakeMirrors(f"http://{host}:{port}", requested_paths)
    finally:
        release_stalled.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def dead_mirror() -> str:
    """Return the URL of a local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def folder_listing(folder: Path) -> list[str]:
    """Return the sorted names of everything in `folder`, hidden temp files included."""
    return sorted(path.name for path in folder.iterdir())


def test_default_mirrors_are_the_known_hosts() -> None:
    assert DEFAULT_MIRRORS == (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )


def test_downloads_all_files_into_new_folder(tmp_path: Path, mirrors: FakeMirrors) -> None:
    folder = tmp_path / "data" / "mnist"
    paths = download_mnist(folder, [mirrors.url("good")], files=fake_files())
    assert paths == [folder / name for name in fake_files()]
    assert folder_listing(folder) == sorted(fake_files())
    for path in paths:
        assert gzip.decompress(path.read_bytes()) == fake_contents()[path.name]
    assert load_mnist(folder, "train").labels[:3] == [0, 1, 2]
    assert load_mnist(folder, "test").labels == [7, 2]
    assert verify_mnist(folder, fake_files()) == dict.fromkeys(fake_files(), True)


def test_valid_files_are_not_downloaded_again(tmp_path: Path, mirrors: FakeMirrors) -> None:
    first = download_mnist(tmp_path, [mirrors.url("good")], files=fake_files())
    requests_after_first = len(mirrors.requested_paths)
    second = download_mnist(tmp_path, [mirrors.url("good")], files=fake_files())
    assert second == first
    assert len(mirrors.requested_paths) == requests_after_first


def test_invalid_existing_file_is_replaced(tmp_path: Path, mirrors: FakeMirrors) -> None:
    (tmp_path / TRAIN_IMAGES).write_bytes(gzip.compress(corrupted(fake_contents()[TRAIN_IMAGES])))
    download_mnist(tmp_path, [mirrors.url("good")], files=fake_files())
    assert gzip.decompress((tmp_path / TRAIN_IMAGES).read_bytes()) == fake_contents()[TRAIN_IMAGES]
    assert f"/good/{TRAIN_IMAGES}" in mirrors.requested_paths


def test_raw_content_is_stored_without_gz_suffix(tmp_path: Path, mirrors: FakeMirrors) -> None:
    stale = tmp_path / TRAIN_IMAGES
    stale.write_bytes(b"not gzip and not valid")
    paths = download_mnist(tmp_path, [mirrors.url("raw")], files=fake_files())
    assert paths == [tmp_path / name.removesuffix(".gz") for name in fake_files()]
    assert folder_listing(tmp_path) == sorted(name.removesuffix(".gz") for name in fake_files())
    assert (tmp_path / "t10k-labels-idx1-ubyte").read_bytes() == fake_contents()[
        "t10k-labels-idx1-ubyte.gz"
    ]
    assert len(load_mnist(tmp_path, "train")) == FAKE_TRAIN_COUNT


@pytest.mark.parametrize(
    "bad_behaviour", ["bad-checksum", "broken-gzip", "missing", "short", "cut"]
)
def test_bad_mirror_falls_through_to_next(
    tmp_path: Path, mirrors: FakeMirrors, bad_behaviour: str
) -> None:
    download_mnist(tmp_path, [mirrors.url(bad_behaviour), mirrors.url("good")], files=fake_files())
    assert verify_mnist(tmp_path, fake_files()) == dict.fromkeys(fake_files(), True)
    assert f"/{bad_behaviour}/{TRAIN_IMAGES}" in mirrors.requested_paths
    assert folder_listing(tmp_path) == sorted(fake_files())


def test_dead_mirror_falls_through_to_next(
    tmp_path: Path, mirrors: FakeMirrors, dead_mirror: str
) -> None:
    download_mnist(tmp_path, [dead_mirror, mirrors.url("good")], files=fake_files())
    assert folder_listing(tmp_path) == sorted(fake_files())


def test_all_mirrors_failing_lists_each_reason(
    tmp_path: Path, mirrors: FakeMirrors, dead_mirror: str
) -> None:
    failing = [
        dead_mirror,
        mirrors.url("missing"),
        mirrors.url("bad-checksum"),
        mirrors.url("broken-gzip"),
        mirrors.url("short"),
        mirrors.url("cut"),
        mirrors.url("stall"),
    ]
    with pytest.raises(DownloadError) as caught:
        download_mnist(tmp_path, failing, timeout=SHORT_TIMEOUT_SECONDS, files=fake_files())
    lines = str(caught.value).splitlines()
    assert lines[0] == f"could not download {TRAIN_IMAGES} from any mirror:"
    assert lines[1] == f"  {dead_mirror}{TRAIN_IMAGES}: Connection refused"
    assert lines[2] == f"  {mirrors.url('missing')}{TRAIN_IMAGES}: HTTP 404 Not Found"
    assert lines[3].startswith(f"  {mirrors.url('bad-checksum')}{TRAIN_IMAGES}: checksum mismatch")
    assert lines[4].startswith(f"  {mirrors.url('broken-gzip')}{TRAIN_IMAGES}: corrupt gzip")
    assert lines[5] == (
        f"  {mirrors.url('short')}{TRAIN_IMAGES}: truncated gzip stream: "
        "the compressed data ends before its end marker"
    )
    assert lines[6].startswith(f"  {mirrors.url('cut')}{TRAIN_IMAGES}: connection closed after")
    assert lines[7] == f"  {mirrors.url('stall')}{TRAIN_IMAGES}: timed out after 0.3 s"
    assert len(lines) == 8
    assert isinstance(caught.value, DataError)
    assert folder_listing(tmp_path) == []


def test_progress_reports_increasing_byte_counts(tmp_path: Path, mirrors: FakeMirrors) -> None:
    reports: list[tuple[str, int, int | None]] = []
    download_mnist(
        tmp_path,
        [mirrors.url("good")],
        progress=lambda name, done, total: reports.append((name, done, total)),
        files=fake_files(),
    )
    served_size = len(gzip.compress(fake_contents()[TRAIN_IMAGES]))
    train_reports = [(done, total) for name, done, total in reports if name == TRAIN_IMAGES]
    counts = [done for done, _ in train_reports]
    assert served_size > 2 * DOWNLOAD_CHUNK_BYTES
    assert len(counts) >= 4
    assert counts[0] == 0
    assert counts == sorted(set(counts))
    assert counts[-1] == served_size
    assert {total for _, total in train_reports} == {served_size}
    assert {name for name, _, _ in reports} == set(fake_files())


def test_progress_total_is_none_without_content_length(
    tmp_path: Path, mirrors: FakeMirrors
) -> None:
    totals = set()
    download_mnist(
        tmp_path,
        [mirrors.url("no-length")],
        progress=lambda name, done, total: totals.add(total),
        files=fake_files(),
    )
    assert totals == {None}
    assert verify_mnist(tmp_path, fake_files()) == dict.fromkeys(fake_files(), True)


def test_cancel_mid_download_leaves_nothing(tmp_path: Path, mirrors: FakeMirrors) -> None:
    cancel = threading.Event()

    def cancel_after_first_chunk(name: str, done: int, total: int | None) -> None:
        if done > 0:
            cancel.set()

    with pytest.raises(DownloadCancelled, match=f"download of {TRAIN_IMAGES} cancelled"):
        download_mnist(
            tmp_path,
            [mirrors.url("good")],
            progress=cancel_after_first_chunk,
            cancel=cancel,
            files=fake_files(),
        )
    assert folder_listing(tmp_path) == []


def test_cancel_before_start_makes_no_request(tmp_path: Path, mirrors: FakeMirrors) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(DownloadCancelled):
        download_mnist(tmp_path, [mirrors.url("good")], cancel=cancel, files=fake_files())
    assert mirrors.requested_paths == []


def test_verify_reports_missing_and_corrupt_files(tmp_path: Path, mirrors: FakeMirrors) -> None:
    assert verify_mnist(tmp_path / "absent", fake_files()) == dict.fromkeys(fake_files(), False)
    download_mnist(tmp_path, [mirrors.url("good")], files=fake_files())
    (tmp_path / TRAIN_IMAGES).write_bytes(b"\x1f\x8b garbage")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    assert verify_mnist(tmp_path, fake_files()) == {
        TRAIN_IMAGES: False,
        "train-labels-idx1-ubyte.gz": True,
        "t10k-images-idx3-ubyte.gz": True,
        "t10k-labels-idx1-ubyte.gz": False,
    }


def test_empty_mirror_list_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no mirrors given"):
        download_mnist(tmp_path, [], files=fake_files())


def downloaded_within_bounds(
    tmp_path: Path, mirror_urls: list[str], **limits: float
) -> tuple[DownloadError | None, float]:
    """Run download_mnist with short limits; return its error (or None) and the seconds taken."""
    started = time.monotonic()
    try:
        download_mnist(
            tmp_path,
            mirror_urls,
            timeout=limits.get("timeout", STALL_SECONDS),
            deadline=limits.get("deadline", DEADLINE_SECONDS),
            files=fake_files(),
        )
    except DownloadError as error:
        return error, time.monotonic() - started
    return None, time.monotonic() - started


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("endless", "wrong size: decompressed content goes beyond the 156816 bytes expected"),
        ("gzip-bomb", "wrong size: decompressed content goes beyond the 156816 bytes"),
        ("lying-length", "the server announced 1000000000000 bytes, more than the"),
        ("empty-members", "the server sent more than the"),
        ("trickle", "stalled: fewer than 1024 bytes in 0.5 s"),
        ("trickled-headers", "took longer than the 1.5 s allowed for one file"),
        ("steady-flow", "took longer than the 1.5 s allowed for one file"),
        ("redirect-loop", "HTTP 3"),
        ("redirect-to-endless", "wrong size: decompressed content goes beyond"),
    ],
)
def test_hostile_mirror_is_abandoned_within_limits(
    tmp_path: Path, mirrors: FakeMirrors, behaviour: str, reason: str
) -> None:
    error, seconds = downloaded_within_bounds(tmp_path, [mirrors.url(behaviour)])
    assert error is not None
    assert f"  {mirrors.url(behaviour)}{TRAIN_IMAGES}: {reason}" in str(error)
    assert seconds < SECONDS_BOUND
    assert folder_listing(tmp_path) == []


def test_hostile_mirror_falls_through_to_good_one(tmp_path: Path, mirrors: FakeMirrors) -> None:
    hostile = [mirrors.url(name) for name in ("endless", "gzip-bomb", "trickle", "redirect-loop")]
    error, seconds = downloaded_within_bounds(
        tmp_path, [*hostile, mirrors.url("redirect-to-good")], deadline=SECONDS_BOUND
    )
    assert error is None
    assert seconds < len(fake_files()) * SECONDS_BOUND
    assert verify_mnist(tmp_path, fake_files()) == dict.fromkeys(fake_files(), True)
    assert folder_listing(tmp_path) == sorted(fake_files())


def test_https_to_http_redirect_is_refused() -> None:
    handler = _NoDowngradeRedirectHandler()
    request = urllib.request.Request("https://example.org/mnist/x.gz")
    with pytest.raises(urllib.error.URLError, match="refused a redirect from https"):
        handler.redirect_request(request, None, 302, "Found", {}, "http://example.org/x.gz")
    followed = handler.redirect_request(
        request, None, 302, "Found", {}, "https://mirror.example.org/x.gz"
    )
    assert followed is not None and followed.full_url == "https://mirror.example.org/x.gz"


def test_interrupt_mid_download_leaves_nothing(tmp_path: Path, mirrors: FakeMirrors) -> None:
    def interrupt_after_first_chunk(name: str, done: int, total: int | None) -> None:
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download_mnist(
            tmp_path,
            [mirrors.url("good")],
            progress=interrupt_after_first_chunk,
            files=fake_files(),
        )
    assert folder_listing(tmp_path) == []


def test_temp_files_left_by_a_killed_run_are_removed(tmp_path: Path, mirrors: FakeMirrors) -> None:
    (tmp_path / f".{TRAIN_IMAGES}.k1ll3d{TEMP_FILE_SUFFIX}").write_bytes(bytes(1000))
    download_mnist(tmp_path, [mirrors.url("good")], files=fake_files())
    assert folder_listing(tmp_path) == sorted(fake_files())


def test_sigterm_mid_download_leaves_nothing(tmp_path: Path, mirrors: FakeMirrors) -> None:
    """SIGTERM to the CLI while a mirror trickles: it exits and removes its temp file."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine",
            "download",
            "--data",
            str(tmp_path),
            "--mirror",
            mirrors.url("trickle"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        waited = 0.0
        while not any(path.suffix == TEMP_FILE_SUFFIX for path in tmp_path.iterdir()):
            assert waited < SECONDS_BOUND and process.poll() is None
            time.sleep(0.02)
            waited += 0.02
        process.send_signal(signal.SIGTERM)
        process.wait(SECONDS_BOUND)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 128 + signal.SIGTERM
    assert b"Traceback" not in process.stderr.read()
    process.stderr.close()
    assert folder_listing(tmp_path) == []
