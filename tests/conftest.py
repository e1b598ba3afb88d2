"""Shared fixtures of the test suite.

``tiny_campaign``
    The ``tiny`` preset of the packaged ``datasets.yaml``, simulated once per test session
    (real generators, real writer; a few seconds) into a temporary directory. It returns the
    loaded :class:`na62dump.simulation.campaign.Campaign`: ``.config`` (the datasets.yaml),
    ``.data_dir`` (where the files are), ``.datasets``, ``.fileset(channels)``, ``.get(name)``.
    Made with the campaign's own seed, so ``na62dump simulate``/``all`` pointed at
    ``data_dir`` find them up to date. Treat the files as read-only: other tests share them.

``http_server``
    A loopback HTTP server (a thread of this process) serving a fresh directory with byte-range
    requests, as uproot needs: ``(directory, base_url, requests)``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_campaign(tmp_path_factory):
    """The simulated ``tiny`` campaign (see the module docstring)."""
    from na62dump.commands.simulate import simulate_campaign
    from na62dump.simulation.campaign import load_campaign

    data_dir = tmp_path_factory.mktemp("tiny_campaign")
    campaign = load_campaign(preset="tiny", data_dir=data_dir)
    # the campaign's own seed, so that `na62dump all --data-dir <this>` finds them up to date
    report = simulate_campaign(campaign)
    assert not report.skipped and report.written
    return campaign


@pytest.fixture
def http_server(tmp_path):
    """A loopback HTTP server over a fresh directory, answering byte-range requests.

    Returns ``(directory, base_url, requests)``: files written into ``directory`` are served
    at ``base_url + name``; ``requests`` lists ``(method, path, range header)`` of every
    request (so a test can see that uproot read byte ranges, not whole files). Directories
    get the standard HTML index (what fsspec's HTTP glob parses). Python's
    ``SimpleHTTPRequestHandler`` ignores ``Range``; uproot (through fsspec) needs it, as from
    any web server holding ntuples, so this handler answers ``bytes=a-b``, ``bytes=a-`` and
    ``bytes=-n`` with 206 Partial Content.
    """
    import functools
    import http.server
    import os
    import re
    import threading

    directory = tmp_path / "www"
    directory.mkdir()
    requests: list[tuple[str, str, str | None]] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _serve(self, body: bool):
            requests.append((self.command, self.path, self.headers.get("Range")))
            path = self.translate_path(self.path)
            if os.path.isdir(path):
                return super().do_GET() if body else super().do_HEAD()
            if not os.path.isfile(path):
                self.send_error(404, "File not found")
                return
            size = os.path.getsize(path)
            start, stop, status = 0, size, 200
            spec = self.headers.get("Range")
            if spec:
                m = re.fullmatch(r"bytes=(\d*)-(\d*)", spec.strip())
                if not m or not (m[1] or m[2]):
                    self.send_error(416, "only one byte range per request")
                    return
                if m[1]:
                    start = int(m[1])
                    stop = min(size, int(m[2]) + 1) if m[2] else size
                else:
                    start = max(0, size - int(m[2]))
                if start >= stop:
                    self.send_error(416, "range not satisfiable")
                    return
                status = 206
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(stop - start))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
            self.end_headers()
            if body:
                with open(path, "rb") as f:
                    f.seek(start)
                    self.wfile.write(f.read(stop - start))

        def do_GET(self):
            self._serve(body=True)

        def do_HEAD(self):
            self._serve(body=False)

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(directory))
    )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield directory, f"http://127.0.0.1:{server.server_port}/", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
