"""Hostile options and environment (issue 13): each one a one-line error, exit status 2 (130
for Ctrl-C), no traceback, nothing written.

One test (or parametrised family) per row of the issue, each the reproduction of the row:
a ``--scheduler`` that is no dask scheduler, an output directory that cannot be written, a
model coupling outside its physical range or beyond double precision, a hostile
``datasets.yaml``, a missing data directory, Ctrl-C.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from na62dump import cli, runner
from na62dump.errors import InputError
from na62dump.simulation.campaign import MAX_FILES_PER_DATASET, load_campaign
from tests.test_runner import CHUNK, make_campaign

NA62DUMP = str(Path(sys.executable).with_name("na62dump"))


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return make_campaign(tmp_path_factory.mktemp("campaign"))


def one_line_error(capsys, command: str) -> str:
    """The stderr of a failed ``na62dump <command>``: one line, no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"na62dump {command}: error: "), err
    return lines[0]


# --------------------------------------------------------------------------------------------
# --scheduler
# --------------------------------------------------------------------------------------------
def run_dask(config, out, scheduler, *extra):
    return cli.main(["run", "--config", str(config), "--preset", "tiny", "--channels", "ee",
                     "--executor", "dask", "--scheduler", scheduler, "--chunksize", str(CHUNK),
                     "--out", str(out), *extra])  # fmt: skip


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("notanaddress", "not a host:port address; give tcp://host:port"),
        ("http://127.0.0.1:8787", "an http:// address is a web page (the dask dashboard?)"),
        ("tcp://127.0.0.1:99999", "bad port"),
        ("udp://127.0.0.1:8786", "unknown scheme udp://"),
        ("tcp://127.0.0.1", "not a host:port address"),
    ],
)
def test_malformed_scheduler_address(config, tmp_path, capsys, address, message):
    tic = time.monotonic()
    assert run_dask(config, tmp_path / "r", address) == 2
    line = one_line_error(capsys, "run")
    assert f"--scheduler {address}: {message}" in line
    assert time.monotonic() - tic < 5  # refused by its form: nothing is contacted
    assert not (tmp_path / "r").exists()


def test_refused_scheduler_port_fails_at_once(config, tmp_path, capsys):
    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tic = time.monotonic()
    assert run_dask(config, tmp_path / "r", f"tcp://127.0.0.1:{port}") == 2
    assert "connection refused" in one_line_error(capsys, "run")
    assert time.monotonic() - tic < 5  # not the 10 s timeout (it was 32 s)


def test_silent_socket_is_not_a_scheduler(config, tmp_path, capsys):
    # listens (the kernel completes the TCP handshake) and never says a word
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        tic = time.monotonic()
        assert run_dask(config, tmp_path / "r", address, "--scheduler-timeout", "1") == 2
        elapsed = time.monotonic() - tic
    line = one_line_error(capsys, "run")
    assert f"--scheduler {address}: the port accepts connections but no dask scheduler " \
           "answered within 1 s" in line
    assert elapsed < 8  # bounded by --scheduler-timeout (it hung for minutes)
    assert not (tmp_path / "r").exists()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test's output clean
        pass


def test_http_server_is_not_a_scheduler(config, tmp_path, capsys):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        address = f"127.0.0.1:{httpd.server_address[1]}"  # host:port, no scheme
        tic = time.monotonic()
        assert run_dask(config, tmp_path / "r", address, "--scheduler-timeout", "1") == 2
        elapsed = time.monotonic() - tic
    finally:
        httpd.shutdown()
        httpd.server_close()
    line = one_line_error(capsys, "run")
    assert f"--scheduler {address}:" in line and "scheduler" in line.split(":", 3)[-1]
    assert elapsed < 8


def test_scheduler_timeout_must_be_a_positive_number(config, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_dask(config, tmp_path / "r", "tcp://127.0.0.1:8786", "--scheduler-timeout", "inf")
    assert exit_.value.code == 2
    assert "--scheduler-timeout" in capsys.readouterr().err


def test_a_real_scheduler_passes_the_probe_and_a_worker_does_not():
    import distributed

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  host="127.0.0.1", dashboard_address=None,
                                  worker_dashboard_address=None, protocol="tcp") as cluster:
        runner.probe_scheduler(cluster.scheduler_address, 5)
        worker = next(iter(cluster.scheduler_info["workers"]))
        with pytest.raises(InputError, match=r"answered as Worker, not as a dask scheduler"):
            runner.probe_scheduler(worker, 5)


# --------------------------------------------------------------------------------------------
# Output directory that cannot be written; full disk
# --------------------------------------------------------------------------------------------
def _stage_argv(config, where):
    cfg = ["--config", str(config), "--preset", "tiny"]
    return {
        "run": (["run", *cfg, "--executor", "iterative", "--out", where], "--out"),
        "background": (["background", "--results", where], "--results"),
        "limits": (["limits", "--results", where], "--results"),
        "plot": (["plot", "--out", where], "--out"),
        "hepdata": (["hepdata", "--out", where], "--out"),
        "all": (["all", *cfg, "--out", where], "--out"),
        "simulate": (["simulate", *cfg, "--data-dir", where], "--data-dir"),
    }


@pytest.mark.parametrize("under", [False, True], ids=["is-a-file", "under-a-file"])
@pytest.mark.parametrize(
    "command", ["run", "background", "limits", "plot", "hepdata", "all", "simulate"]
)
def test_output_directory_that_is_a_file(config, tmp_path, capsys, command, under):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a directory\n")
    where = a_file / "sub" if under else a_file
    argv, option = _stage_argv(config, str(where))[command]
    assert cli.main(argv) == 2
    line = one_line_error(capsys, command)
    expected = f"cannot be made: {a_file} is a file" if under else "is a file"
    assert f"{option} {where}: {expected}, not a directory" in line
    assert a_file.read_text() == "not a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # nothing else written


def test_validate_out_under_a_file(tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert cli.main(["validate", "--out", str(a_file / "v.md")]) == 2
    assert f"--out {a_file}: is a file, not a directory" in one_line_error(capsys, "validate")


def test_oserror_while_writing_is_one_line_naming_the_path(tmp_path, capsys):
    # the directory can be written, the target cannot (a directory stands there): the
    # failure comes from the write itself and is mapped at the command-line boundary
    target = tmp_path / "report.md"
    target.mkdir()
    assert cli.main(["validate", "--out", str(target)]) == 2
    line = one_line_error(capsys, "validate")
    assert str(target) in line and "directory" in line.lower()
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]  # no temporary left


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_full_disk_under_stdout(tmp_path):
    # /dev/full: every write fails with ENOSPC, as on a full disk
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [NA62DUMP, "model", "dark-photon", "--mass", "0.3", "--eps", "1e-6", "--json",
             "--samples", "1000"],  # fmt: skip
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
        )
    assert proc.returncode == 2
    assert proc.stderr == "na62dump model: error: standard output: No space left on device\n"


def test_environment_errors_are_the_ones_mapped():
    import errno

    err = OSError(errno.EROFS, "Read-only file system", "/mnt/ro/summary.json")
    assert cli.environment_error_message(err) == "/mnt/ro/summary.json: Read-only file system"
    # not an environment error: a bug or a broken device keeps its traceback
    assert cli.environment_error_message(OSError(errno.EBADF, "Bad file descriptor")) is None


# --------------------------------------------------------------------------------------------
# model couplings
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["dark-photon", "--mass", "0.3", "--eps", "1e300"], "eps: must be <= 1, got 1e+300"),
        (["dark-photon", "--mass", "0.3", "--eps", "10"], "eps: must be <= 1, got 10.0"),
        (["dark-photon", "--mass", "0.3", "--eps", "1e-300", "--json"],
         "--eps 1e-300: ctau_m is outside the range of double precision"),
        (["dark-scalar", "--mass", "0.5", "--sin2theta", "1e300"], "sin2theta: must be <= 1"),
        (["dark-scalar", "--mass", "0.5", "--sin2theta", "1"],
         "sin2theta: 1 gives BR(B -> K(*) S) = 3.64 > 1"),
        (["alp-gluon", "--mass", "0.7", "--cgg", "1e300"], "|theta| > 1: outside the model"),
        (["alp-gluon", "--mass", "0.7", "--cgg", "10"], "theta_api0 = 52.5"),
        (["alp-gluon", "--mass", "0.7", "--cgg", "1e-300", "--json"],
         "--cgg 1e-300: ctau_m is outside the range of double precision"),
        (["alp", "--mass", "0.5", "--lifetime-s", "1e-320", "--json"],
         "--lifetime-s 1e-320: decay_probability_fv[b_to_kx] is outside the range"),
        (["alp", "--mass", "0.5", "--ctau-m", "1", "--br-product", "2"],
         "br-product: must be within [0, 1]"),
    ],
)
def test_model_coupling_out_of_range(capsys, argv, message):
    assert cli.main(["model", *argv, "--samples", "1000"]) == 2
    line = one_line_error(capsys, "model")
    assert message in line
    assert capsys.readouterr().out == ""


def _strict_json(text: str):
    def refuse(constant):
        raise AssertionError(f"non-JSON literal {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    "argv",
    [
        ["dark-photon", "--mass", "0.3", "--eps", "1"],  # the edges of the ranges are fine
        ["dark-scalar", "--mass", "0.5", "--sin2theta", "0.1"],
        ["dark-scalar", "--mass", "0.5", "--sin2theta", "1e-300"],  # tiny but representable
        ["alp", "--mass", "0.5", "--ctau-m", "1e300"],
    ],
)
def test_model_in_range_gives_strict_json(capsys, argv):
    assert cli.main(["model", *argv, "--samples", "1000", "--json"]) == 0
    summary = _strict_json(capsys.readouterr().out)
    assert summary["mass_gev"] > 0


# --------------------------------------------------------------------------------------------
# datasets.yaml
# --------------------------------------------------------------------------------------------
DATA_ENTRY = """\
datasets:
  - name: data
    kind: pseudo_data
    channels: all
    recipe:
{recipe}
"""


def _write_yaml(tmp_path, recipe: str) -> Path:
    path = tmp_path / "datasets.yaml"
    path.write_text(DATA_ENTRY.format(recipe=textwrap.indent(textwrap.dedent(recipe), " " * 6)))
    return path


def test_infinite_size_is_refused(tmp_path):
    path = _write_yaml(tmp_path, "size: .inf\n")
    with pytest.raises(InputError) as err:
        load_campaign(path, preset="tiny", with_generator_metadata=False)
    first = str(err.value).splitlines()[0]
    assert first == (f"{path}: dataset 'data': field 'recipe.size.tiny': Input should be a "
                     "finite number")


def test_absurdly_small_per_file_is_refused_at_once(tmp_path):
    path = _write_yaml(tmp_path, "size: 1.4e17\nper_file: 1\n")
    tic = time.monotonic()
    with pytest.raises(InputError) as err:
        load_campaign(path, preset="tiny", with_generator_metadata=False)
    assert time.monotonic() - tic < 2  # it was a MemoryError after 55 s
    message = str(err.value)
    assert message.startswith(f"{path}: dataset 'data': field 'recipe':")
    assert f"1.4e+17 files, more than {MAX_FILES_PER_DATASET}" in message


def test_grid_file_count_is_bounded(tmp_path):
    path = tmp_path / "datasets.yaml"
    path.write_text(textwrap.dedent("""\
        grids:
          - prefix: dp
            model: dark_photon
            production: brems
            channels: [ee]
            mass_range_gev: [0.01, 1.8]
            masses: [0.3]
            size: 100000
            per_file: 1
        """))
    with pytest.raises(InputError, match=r"grid 'dp'.*1e\+05 files, more than 10000"):
        load_campaign(path, preset="tiny", with_generator_metadata=False)


def test_duplicate_key_is_refused_with_both_lines(tmp_path, capsys):
    path = _write_yaml(tmp_path, "size: 1.4e17\nsize: 1.4e15\n")
    with pytest.raises(InputError) as err:
        load_campaign(path, preset="tiny", with_generator_metadata=False)
    assert str(err.value) == (f"{path}: YAML error at line 7, column 7: duplicate key 'size' "
                              "(first given at line 6)")
    # and through the command line: exit status 2, one line
    assert cli.main(["simulate", "--config", str(path), "--preset", "tiny",
                     "--data-dir", str(tmp_path / "d")]) == 2  # fmt: skip
    assert "duplicate key 'size'" in one_line_error(capsys, "simulate")
    assert not (tmp_path / "d").exists()


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    path = tmp_path / "datasets.yaml"
    path.write_text(textwrap.dedent("""\
        common: &common {kind: pseudo_data, channels: all}
        datasets:
          - <<: *common
            name: data
            recipe: {size: 1.4e17}
        """))
    with pytest.raises(InputError, match="field 'common': unknown key"):  # not a YAML error
        load_campaign(path, preset="tiny", with_generator_metadata=False)


# --------------------------------------------------------------------------------------------
# missing data directory
# --------------------------------------------------------------------------------------------
def test_missing_data_directory_is_named(config, tmp_path, capsys):
    nowhere = tmp_path / "nowhere"
    assert cli.main(["run", "--config", str(config), "--preset", "tiny", "--channels", "ee",
                     "--executor", "iterative", "--data-dir", str(nowhere),
                     "--out", str(tmp_path / "r")]) == 2  # fmt: skip
    line = one_line_error(capsys, "run")
    assert f"nothing matches {nowhere}/" in line and f"(no directory {nowhere})" in line
    assert "na62dump simulate" in line


# --------------------------------------------------------------------------------------------
# Ctrl-C
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("executor", ["iterative", "futures"])
def test_ctrl_c_during_run(tiny_campaign, tmp_path, executor):
    out = tmp_path / "results"
    # small chunks: the run lasts several seconds after its first channel is done
    proc = subprocess.Popen(
        [NA62DUMP, "-v", "run", "--config", str(tiny_campaign.config), "--preset", "tiny",
         "--data-dir", str(tiny_campaign.data_dir), "--executor", executor, "--workers", "2",
         "--chunksize", "500", "--out", str(out)],  # fmt: skip
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        # a test suite started in the background (`make test &`, nohup) has SIGINT ignored,
        # which a child inherits and Python then respects: give the run the terminal's default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = []
    try:
        for line in proc.stderr:  # wait until the processing is under way
            lines.append(line)
            if "INFO na62dump.runner: ee:" in line:
                break
        # as a terminal's Ctrl-C does: SIGINT to the whole process group (workers included)
        os.killpg(proc.pid, signal.SIGINT)
        rest_out, rest_err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    err = "".join(lines) + rest_err
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.strip().splitlines()[-1] == "na62dump run: interrupted"
    assert rest_out == ""
    # nothing written, not even a temporary
    assert not out.exists() or [p for p in out.rglob("*") if p.is_file()] == []
