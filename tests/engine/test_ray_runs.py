"""Dataset certification on Ray actors (issue #16): 2 workers on a local 2-CPU cluster write
the one-process log; a worker killed mid-run (kill -9 of its process) is restarted and its
chunk redone; a driver (joined with --ray-address) killed mid-run leaves a log that the rerun
completes. Every Ray process here is on 127.0.0.1 (checked through the addresses the nodes and
actors report). Most of the time goes to starting Python processes that import torch."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# a local node on the loopback address only: read when ray is imported
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray")

from ray._private import state  # noqa: E402

from ucan_core.cli import _certify_run, build_parser, main  # noqa: E402
from ucan_core.errors import UcanError  # noqa: E402
from ucan_core.io.datasets import load_mnist  # noqa: E402
from ucan_core.io.ray_backend import PerWorker  # noqa: E402
from ucan_core.io.runs import RunProgress, certify_dataset  # noqa: E402

MNIST = Path("/work/shared/data/mnist")
LOOPBACK = "127.0.0.1"
#: 12 MNIST test images in 6 chunks of 2; ``--out`` and ``--workers`` are added per run.
RUN = ["certify", "--dataset", "mnist", "--data-root", str(MNIST), "--model",
       "mnist-gaussian-0.25", "--max", "12", "--n0", "20", "--n", "500", "--batch", "500",
       "--inputs-per-pass", "2", "--seed", "3"]

pytestmark = [pytest.mark.timeout(240),
              pytest.mark.skipif(not MNIST.is_dir(), reason="MNIST files not found")]


def rows(path: Path) -> list[list[str]]:
    """The log's rows without the ``time`` column (the only one that depends on the run)."""
    header, *lines = path.read_text().splitlines()
    drop = header.split("\t").index("time")
    return [[v for i, v in enumerate(line.split("\t")) if i != drop] for line in lines]


def alive_workers() -> list[dict]:
    """The actor table's live certifying workers (Ray's GCS API)."""
    return [a for a in state.actors().values()
            if a["ActorClassName"] == "_Worker" and a["State"] == "ALIVE"]


@pytest.fixture(scope="module")
def cluster() -> str:
    """A 2-CPU local Ray cluster on 127.0.0.1 without dashboard; its GCS address."""
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address=LOOPBACK, log_to_driver=False)
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {LOOPBACK}
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[list[str]]:
    """The one-process log of RUN (no Ray)."""
    out = tmp_path_factory.mktemp("one") / "log.tsv"
    assert main([*RUN, "--out", str(out)]) == 0
    return rows(out)


def test_two_workers_write_the_one_process_log(cluster: str, reference: list[list[str]],
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cluster.startswith(f"{LOOPBACK}:")
    out = tmp_path / "log.tsv"
    assert main([*RUN, "--out", str(out), "--workers", "2"]) == 0
    assert rows(out) == reference
    assert [r[0] for r in reference] == [str(i) for i in range(12)]
    assert "12/12 rows" in capsys.readouterr().err
    assert main([*RUN, "--out", str(out), "--workers", "2"]) == 0  # nothing left: no change
    assert rows(out) == reference
    assert "resuming" in capsys.readouterr().err


def test_a_killed_worker_is_restarted_and_its_chunk_redone(cluster: str,
                                                           reference: list[list[str]],
                                                           tmp_path: Path) -> None:
    # the command's own certifier, built here and pickled to the workers (from Python)
    certify = _certify_run._SameCommand(build_parser().parse_args([*RUN, "--out", "-"]))()
    killed: list[dict] = []

    def kill_one(p: RunProgress) -> None:  # after the first chunk: the other one is running
        if not killed:
            workers = alive_workers()
            assert len(workers) == 2
            assert {w["Address"]["IPAddress"] for w in workers} == {LOOPBACK}
            killed.append(workers[0])
            os.kill(int(workers[0]["Pid"]), signal.SIGKILL)

    out = tmp_path / "log.tsv"
    certify_dataset(out, list(range(12)), certify, load_mnist(MNIST)[1], {"run": "kill"},
                    seed=3, inputs_per_pass=2, progress=kill_one, backend="ray", workers=2)
    assert killed
    assert rows(out) == reference  # complete, in order, no duplicate
    assert state.actors()[killed[0]["ActorID"]]["NumRestarts"] >= 1


def test_a_killed_driver_resumes(cluster: str, reference: list[list[str]],
                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "log.tsv"
    driver = subprocess.Popen([sys.executable, "-m", "ucan_core.cli", *RUN, "--out", str(out),
                               "--workers", "2", "--ray-address", cluster],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out.is_file() and len(out.read_text().splitlines()) > 1):
            assert driver.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait(30)
    partial = rows(out)
    assert 1 <= len(partial) < len(reference)
    assert partial == reference[:len(partial)]
    assert main([*RUN, "--out", str(out)]) == 0  # any worker count resumes: here one process
    assert rows(out) == reference
    assert f"resuming {out}: {len(partial)} of 12 rows done" in capsys.readouterr().err


def test_a_worker_that_cannot_start_is_a_one_line_error(cluster: str, tmp_path: Path) -> None:
    missing = tmp_path / "no-data"
    with pytest.raises(UcanError, match=r"^a Ray worker could not start: .*MNIST test files "
                                        r"not found under .*no-data[^\n]*$"):
        certify_dataset(tmp_path / "log.tsv", [0, 1], PerWorker(lambda: load_mnist(missing)),
                        [0, 0], {}, backend="ray", workers=1)
    assert rows(tmp_path / "log.tsv") == []


def test_workers_need_ray_backend(tmp_path: Path) -> None:
    with pytest.raises(UcanError, match="backend='ray'"):
        certify_dataset(tmp_path / "log.tsv", [0], lambda c, s, p: [], [0], {}, workers=2)


def test_workers_without_ray_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ray" else find_spec(name, *a))
    assert main([*RUN, "--out", str(tmp_path / "log.tsv"), "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ucan: error: --workers > 1 and --ray-address need Ray")
    assert len(err.splitlines()) == 1 and not (tmp_path / "log.tsv").exists()
