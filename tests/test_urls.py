"""Input files by URL: a campaign whose files are served over HTTP by a loopback server runs
exactly as on the local files; root:// URLs are never joined to data_dir and say what to
install without fsspec-xrootd; a URL that does not answer is a one-line error, exit 2."""

from __future__ import annotations

import json
import shutil
import socket
import textwrap
from pathlib import Path

import numpy as np
import pytest

from na62dump import cli, urls
from na62dump.errors import InputError
from na62dump.simulation.campaign import load_campaign
from na62dump.simulation.generators import generate
from na62dump.simulation.writer import write_ntuple

CAMPAIGN = """\
data_dir: {root}
datasets:
  - name: data
    kind: pseudo_data
    channels: [ee]
    files: {data}
  - name: prompt
    kind: prompt
    channels: [ee]
    files: {prompt}
    metadata: {{pot: 1.4e16}}
"""


@pytest.fixture(scope="module")
def local_files(tmp_path_factory):
    """A pseudo-data and a prompt-background file (local), ``{name: path}``."""
    root = tmp_path_factory.mktemp("url_files")
    rng = np.random.default_rng(13)
    return {
        "data": write_ntuple(root / "data_000.root", generate("pseudo_data", {}, 1.4e15, rng)),
        "prompt": write_ntuple(root / "prompt_000.root", generate("prompt", {}, 1.4e16, rng)),
    }


def write_campaign(path: Path, **files: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(CAMPAIGN.format(root=path.parent / "data", **files)))
    return path


def run_cli(config, out, *extra):
    return cli.main(["run", "--config", str(config), "--preset", "tiny", "--channels", "ee",
                     "--chunksize", "200", "--out", str(out), *extra])  # fmt: skip


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_url_detection():
    assert urls.is_url("root://eos.example.org//eos/x.root")
    assert urls.is_url("https://example.org/x.root") and urls.is_url("s3://bucket/x.root")
    assert not urls.is_url("data/tiny/x.root") and not urls.is_url("/abs/root:/x.root")
    assert urls.is_local("file:///tmp/x.root") and not urls.is_local("http://h/x.root")


def test_http_campaign_gives_the_cutflows_of_the_local_files(
    local_files, http_server, tmp_path, capsys
):
    www, base, requests = http_server
    for path in local_files.values():
        shutil.copy(path, www / Path(path).name)
    local = write_campaign(tmp_path / "local" / "datasets.yaml",
                           **{k: str(v) for k, v in local_files.items()})  # fmt: skip
    remote = write_campaign(tmp_path / "remote" / "datasets.yaml",
                            **{k: base + Path(v).name for k, v in local_files.items()})
    camp = load_campaign(remote, preset="tiny")
    assert camp.get("prompt").files == base + "prompt_000.root"  # not joined to data_dir
    assert camp.fileset(["ee"])["prompt"]["files"] == {base + "prompt_000.root": "events"}

    assert run_cli(local, tmp_path / "out_local", "--executor", "iterative") == 0
    # the futures executor: the files are read over HTTP by the worker processes
    assert run_cli(remote, tmp_path / "out_remote", "--executor", "futures",
                   "--workers", "2") == 0  # fmt: skip
    assert "Traceback" not in capsys.readouterr().err
    got = json.loads((tmp_path / "out_remote" / "run" / "summary.json").read_text())["channels"]
    want = json.loads((tmp_path / "out_local" / "run" / "summary.json").read_text())["channels"]
    assert got == want
    assert got["ee"]["prompt"]["cutflow"]["unweighted"][0] > 0
    # uproot read byte ranges over HTTP, never a whole file in one request
    ranges = [r for method, path, r in requests if method == "GET" and path.endswith(".root")]
    assert ranges and all(r and r.startswith("bytes=") for r in ranges)


def test_http_url_glob_lists_the_served_files(local_files, http_server):
    www, base, _ = http_server
    for path in local_files.values():
        shutil.copy(path, www / Path(path).name)
    (www / "notes.txt").write_text("not an ntuple")
    assert urls.expand(base + "*.root") == [base + "data_000.root", base + "prompt_000.root"]
    assert urls.expand(base + "x.root") == [base + "x.root"]  # a declared file, as it is


def test_url_that_does_not_answer_is_one_line_exit_2(local_files, tmp_path, capsys):
    url = f"http://127.0.0.1:{closed_port()}/prompt_000.root"
    config = write_campaign(tmp_path / "datasets.yaml", data=str(local_files["data"]),
                            prompt=url)  # fmt: skip
    assert run_cli(config, tmp_path / "out", "--executor", "iterative") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"na62dump run: error: {url} (dataset 'prompt'): cannot be opened")
    assert not (tmp_path / "out").exists()


def test_missing_file_on_a_server_is_named(local_files, http_server, tmp_path, capsys):
    _, base, _ = http_server
    config = write_campaign(tmp_path / "datasets.yaml", data=str(local_files["data"]),
                            prompt=base + "absent.root")  # fmt: skip
    assert run_cli(config, tmp_path / "out", "--executor", "iterative") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"na62dump run: error: {base}absent.root (dataset 'prompt'): "
                          "cannot be opened (FileNotFoundError")  # fmt: skip


def test_root_url_is_not_joined_to_data_dir_and_says_what_to_install(
    local_files, tmp_path, capsys
):
    """What docs/running.md promised: ``files: root://host//path/x.root`` in datasets.yaml."""
    url = f"root://127.0.0.1:{closed_port()}//store/prompt_000.root"
    config = write_campaign(tmp_path / "datasets.yaml", data=str(local_files["data"]),
                            prompt=url)  # fmt: skip
    camp = load_campaign(config, preset="tiny")
    assert camp.get("prompt").files == url
    assert camp.fileset(["ee"])["prompt"]["files"] == {url: "events"}
    assert run_cli(config, tmp_path / "out", "--executor", "iterative") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    try:
        import fsspec_xrootd  # noqa: F401  (the optional extra na62dump[xrootd])
    except ImportError:
        assert err == (f"na62dump run: error: {url}: root:// URLs need a package that is not "
                       "installed: pip install 'na62dump[xrootd]' (fsspec-xrootd and the "
                       "XRootD Python bindings)\n")  # fmt: skip
    else:  # with the extra installed, the URL is opened and nobody answers
        assert err.startswith(f"na62dump run: error: {url} (dataset 'prompt'): cannot be")
    assert not (tmp_path / "out").exists()


def test_unknown_protocol_is_an_input_error():
    with pytest.raises(InputError, match=r"nosuch://h/x\.root: unknown URL protocol 'nosuch'"):
        urls.check_readable_protocol("nosuch://h/x.root")
    urls.check_readable_protocol("/a/local/path.root")  # local paths always pass


def test_silent_server_is_reported_after_the_bounded_timeout(monkeypatch, capsys):
    """A server that accepts the connection and never answers: one line, not aiohttp's 5 min
    (measured: 307 s before the bound, 17 s with the default NO_ANSWER_TIMEOUT_S of 15 s)."""
    import time

    monkeypatch.setattr(urls, "NO_ANSWER_TIMEOUT_S", 2)  # the setting, shortened for the test
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)  # the kernel completes the handshake; nothing is ever sent back
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/x.root"
        tic = time.perf_counter()
        assert cli.main(["inspect", url]) == 2
        seconds = time.perf_counter() - tic
    err = capsys.readouterr().err
    assert err == (f"na62dump inspect: error: {url}: cannot be opened: no answer within 2 s "
                   "(FSTimeoutError)\n")  # fmt: skip
    assert seconds < 30
