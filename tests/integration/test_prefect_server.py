"""A real local Prefect server: serve casefinder on a weekly schedule, trigger a run, see it end.

Starts `prefect server start` (SQLite, its own PREFECT_HOME, telemetry off) on a free loopback
port, then checks the served route of docs/data-engineer.md (`serve_flow`, as `casefinder
serve` does) on a small flow. Both routes running the whole weekly deployment to Completed,
`prefect deploy` of prefect.yaml with a process worker among them, are in
tests/e2e/test_scheduled_route.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers.extract_set import write_extract_set

from foundation.locking import warehouse_lock

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFECT = Path(sys.executable).parent / "prefect"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# The flow deployed: a real casefinder flow on a tiny extract set.
FLOW_MODULE, FLOW_NAME = "pipelines.flows.ingest", "ingest"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path, api_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        PYTHONPATH=str(REPO_ROOT),
    )
    if api_url:
        env["PREFECT_API_URL"] = api_url
    env.update(extra)
    return env


def _wait_for(predicate, what: str, deadline_s: float = 180.0, every_s: float = 0.5):
    """Poll `predicate` until it returns something truthy, up to a bounded deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("prefect-server-home")
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(home),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
        start_new_session=True,
    )

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"prefect server exited: {(home / 'server.log').read_text()}")
        try:
            return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait_for(healthy, "the Prefect server to be healthy")
        yield api_url
    finally:
        _stop(proc)
        log.close()


def _deployment(api_url: str, name: str) -> dict | None:
    found = httpx.post(
        f"{api_url}/deployments/filter",
        json={"deployments": {"name": {"any_": [name]}}},
        timeout=10,
    ).json()
    return found[0] if found else None


def _trigger(api_url: str, home: Path, full_name: str, parameters: dict) -> str:
    """Trigger a run with `run_deployment` (in a client process) and return its id."""
    script = textwrap.dedent(
        """
        import json, sys
        from prefect.deployments import run_deployment
        run = run_deployment(sys.argv[1], parameters=json.loads(sys.argv[2]), timeout=0)
        print(run.id)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, full_name, json.dumps(parameters)],
        env=_env(home, api_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def _final_state(api_url: str, run_id: str, deadline_s: float = 300.0) -> dict:
    def state() -> dict | None:
        s = httpx.get(f"{api_url}/flow_runs/{run_id}", timeout=10).json().get("state") or {}
        return s if s.get("type") in FINAL else None

    return _wait_for(state, f"flow run {run_id} to finish", deadline_s, every_s=1.0)


def test_served_deployment_has_weekly_schedule_and_runs_on_trigger(
    prefect_server: str, tmp_path: Path
) -> None:
    extracts = write_extract_set(tmp_path / "extracts")
    params = {"extracts": str(extracts), "warehouse": str(tmp_path / "warehouse.duckdb")}
    script = textwrap.dedent(
        f"""
        import json, sys
        from {FLOW_MODULE} import {FLOW_NAME} as flow
        from pipelines.flows.deploy import serve_flow
        serve_flow(flow, json.loads(sys.argv[1]), name="casefinder-weekly-served")
        """
    )
    home = tmp_path / "prefect-client"
    serve_log = (tmp_path / "serve.log").open("w")
    served = subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(params)],
        env=_env(home, prefect_server, PREFECT_RUNNER_POLL_FREQUENCY="2"),
        cwd=REPO_ROOT,
        stdout=serve_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deployment = _wait_for(
            lambda: _deployment(prefect_server, "casefinder-weekly-served"), "the deployment"
        )
        schedule = deployment["schedules"][0]["schedule"]
        assert schedule["cron"] == "0 6 * * 1"
        assert schedule["timezone"] == "Europe/London"
        assert deployment["parameters"] == params
        run_id = _trigger(prefect_server, home, f"{FLOW_NAME}/casefinder-weekly-served", {})
        state = _final_state(prefect_server, run_id)
        assert state["type"] == "COMPLETED", (tmp_path / "serve.log").read_text()[-3000:]
    finally:
        _stop(served)
        serve_log.close()


def test_casefinder_serve_registers_the_weekly_run_with_its_schedule(
    prefect_server: str, tmp_path: Path
) -> None:
    extracts = write_extract_set(tmp_path / "extracts")
    home = tmp_path / "prefect-client"
    serve_log = (tmp_path / "serve.log").open("w")
    served = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "casefinder"),
            "serve",
            "--extracts",
            str(extracts),
            "--warehouse",
            str(tmp_path / "warehouse.duckdb"),
            "--out",
            str(tmp_path / "out"),
            "--name",
            "casefinder-weekly-cli",
            "--paused",
        ],
        env=_env(home, prefect_server),
        cwd=tmp_path,
        stdout=serve_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deployment = _wait_for(
            lambda: _deployment(prefect_server, "casefinder-weekly-cli"), "the deployment"
        )
        flow = httpx.get(f"{prefect_server}/flows/{deployment['flow_id']}", timeout=10).json()
        assert flow["name"] == "weekly_run"
        schedule = deployment["schedules"][0]["schedule"]
        assert (schedule["cron"], schedule["timezone"]) == ("0 6 * * 1", "Europe/London")
        assert deployment["parameters"] == {
            "extracts": str(extracts.resolve()),
            "warehouse": str((tmp_path / "warehouse.duckdb").resolve()),
            "out": str((tmp_path / "out").resolve()),
        }
        assert deployment["entrypoint"] == "pipelines.flows.weekly.weekly_run"
        # Serving only waits: the warehouse stays free until a run starts.
        with warehouse_lock(tmp_path / "warehouse.duckdb"):
            pass
    finally:
        _stop(served)
        serve_log.close()
