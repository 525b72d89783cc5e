"""The scheduled route of docs/data-engineer.md, for real: server, work pool, `prefect deploy`,
a process worker, the weekly deployment run to Completed; and a crashed run notifies.

A real `prefect server start` on a loopback port (its own PREFECT_HOME, telemetry off), then
the commands of the guide from the repository root with the repository's own prefect.yaml:
`prefect work-pool create casefinder-process --type process`, `prefect --no-prompt deploy
--all`, `prefect worker start --pool casefinder-process`, and a deployment run of
`weekly_run/casefinder-weekly` with the paths of a small synthetic extract set. The worker
loads `pipelines/flows/weekly.py` by path, with that folder first on `sys.path`: a flow module
named like a top-level package would crash the run here (and only here).

The extracts and the warehouse are those of the session's small publication
(tests/e2e/conftest.py), the warehouse folder copied: its model is registered (trained with
the quality gate off, which a small population cannot pass), so the deployment run scores
with it instead of training, with the key file beside the warehouse. Then a second run is
killed (SIGKILL to its process and children) while running: Prefect marks it Crashed and the
flow's `on_crashed` hook posts one `crashed` message to the webhook in
`CASEFINDER_NOTIFY_WEBHOOK` (pipelines/notify.py), here a receiver on loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from helpers.cli_process import (
    Sandbox,
    child_env,
    prefect_server,
    stop_group,
    wait_for,
)
from helpers.shared_build import copy_warehouse

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFECT = Path(sys.executable).with_name("prefect")
EXTRACT_DATE = "2026-11-23"  # the small publication's as-of date
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


class _Receiver(BaseHTTPRequestHandler):
    """A webhook receiver: keeps every JSON body POSTed to it."""

    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).received.append(json.loads(self.rfile.read(length) or b"{}"))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # quiet
        return


@pytest.fixture(scope="module")
def webhook() -> Iterator[tuple[str, list[dict]]]:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory,
    webhook: tuple[str, list[dict]],
    small_publication: dict,
) -> Iterator[dict]:
    """Server up, a copy of a warehouse with a registered model, prefect.yaml deployed, worker
    started."""
    assert small_publication["as_of"] == EXTRACT_DATE
    root = tmp_path_factory.mktemp("scheduled")
    extracts = small_publication["extracts"]
    warehouse = copy_warehouse(small_publication["warehouse"], root / "wh")
    with prefect_server(root / "server") as api_url:
        env = {"PREFECT_API_URL": api_url}

        # The data engineer's shell: PREFECT_API_URL set, the repository root as working folder.
        shell = child_env(
            Sandbox(root / "engineer").make(),
            {
                **env,
                "PREFECT_WORKER_QUERY_SECONDS": "2",
                "PREFECT_LOGGING_LEVEL": "INFO",
                "CASEFINDER_NOTIFY_WEBHOOK": webhook[0],
            },
        )

        def prefect(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(PREFECT), *args],
                env=shell,
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )

        created = prefect("work-pool", "create", "casefinder-process", "--type", "process")
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = prefect("--no-prompt", "deploy", "--all")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        worker_log = root / "worker.log"
        with worker_log.open("wb") as log:
            worker = subprocess.Popen(
                [str(PREFECT), "worker", "start", "--pool", "casefinder-process"],
                env=shell,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            yield {
                "api_url": api_url,
                "shell": shell,
                "root": root,
                "extracts": extracts,
                "warehouse": warehouse,
                "worker_log": worker_log,
            }
        finally:
            stop_group(worker, grace_s=60)


def _deployment(api_url: str) -> dict:
    found = httpx.post(
        f"{api_url}/deployments/filter",
        json={"deployments": {"name": {"any_": ["casefinder-weekly"]}}},
        timeout=30,
    ).json()
    assert len(found) == 1, found
    return found[0]


def _start_run(deployed: dict, parameters: dict, name: str = "weekly_run/casefinder-weekly") -> str:
    """`prefect deployment run weekly_run/casefinder-weekly --param ...`, as the guide says."""
    args = [str(PREFECT), "deployment", "run", name]
    for name, value in parameters.items():
        args += ["--param", f"{name}={value}"]
    started = subprocess.run(
        args,
        env=deployed["shell"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert started.returncode == 0, started.stdout + started.stderr
    # "UUID: <id>" is in the command's table of the created run.
    for line in started.stdout.splitlines():
        if "UUID:" in line:
            return line.split("UUID:")[1].strip()
    raise AssertionError(started.stdout)


def _flow_run(api_url: str, run_id: str) -> dict:
    return httpx.get(f"{api_url}/flow_runs/{run_id}", timeout=30).json()


def _final_state(deployed: dict, run_id: str) -> dict:
    def final() -> dict | None:
        state = _flow_run(deployed["api_url"], run_id).get("state") or {}
        return state if state.get("type") in FINAL else None

    return wait_for(final, f"flow run {run_id} to end", deadline_s=1800, every_s=1.0)


def _descendants(pid: int) -> list[int]:
    """`pid` and every process below it (from /proc), children first."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found[::-1]


def _parameters(deployed: dict, out: Path) -> dict:
    return {
        "extracts": str(deployed["extracts"]),
        "warehouse": str(deployed["warehouse"]),
        "out": str(out),
    }


def test_the_weekly_deployment_runs_on_a_process_worker_to_completed(deployed: dict) -> None:
    deployment = _deployment(deployed["api_url"])
    assert deployment["entrypoint"] == "pipelines/flows/weekly.py:weekly_run"
    assert deployment["work_pool_name"] == "casefinder-process"
    schedule = deployment["schedules"][0]["schedule"]
    assert (schedule["cron"], schedule["timezone"]) == ("0 6 * * 1", "Europe/London")

    out = deployed["root"] / "out"
    run_id = _start_run(deployed, _parameters(deployed, out))
    state = _final_state(deployed, run_id)
    assert state["type"] == "COMPLETED", (
        state,
        deployed["worker_log"].read_text(errors="replace")[-4000:],
    )
    lists = out / "lists" / EXTRACT_DATE
    assert sorted(lists.glob("*/proactive_care_list.csv")), list(out.rglob("*"))
    summary = json.loads(
        (out / "reports" / EXTRACT_DATE / "run_summary.json").read_text(encoding="utf-8")
    )
    assert summary["as_of"] == EXTRACT_DATE
    assert summary["model_version"]


def test_a_crashed_weekly_run_sends_the_crashed_notification(
    deployed: dict, webhook: tuple[str, list[dict]]
) -> None:
    received = webhook[1]
    received.clear()
    run_id = _start_run(deployed, _parameters(deployed, deployed["root"] / "out-crashed"))

    def running_pid() -> int | None:
        run = _flow_run(deployed["api_url"], run_id)
        state = (run.get("state") or {}).get("type")
        assert state not in FINAL, (run.get("state"), "ended before it could be killed")
        if state == "RUNNING" and run.get("infrastructure_pid"):
            return int(str(run["infrastructure_pid"]).rsplit(":", 1)[-1])
        return None

    pid = wait_for(running_pid, "the run to be running", deadline_s=900, every_s=0.2)
    for victim in _descendants(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    state = _final_state(deployed, run_id)
    assert state["type"] == "CRASHED", state
    message = wait_for(
        lambda: next((m for m in received if m.get("event") == "crashed"), None),
        "the crashed notification",
        deadline_s=300,
        every_s=0.5,
    )
    assert message["flow"] == "weekly_run"
    assert message["state"] == "Crashed"
    assert "weekly_run" in message["message"]


def test_casefinder_serve_runs_the_weekly_deployment_to_completed(deployed: dict) -> None:
    """Route 1: `casefinder serve`, then a deployment run of the served deployment."""
    out = deployed["root"] / "out-served"
    log_file = deployed["root"] / "serve.log"
    with log_file.open("wb") as log:
        served = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("casefinder")),
                "serve",
                "--extracts",
                str(deployed["extracts"]),
                "--warehouse",
                str(deployed["warehouse"]),
                "--out",
                str(out),
                "--name",
                "casefinder-weekly-served",
            ],
            env={**deployed["shell"], "PREFECT_RUNNER_POLL_FREQUENCY": "2"},
            cwd=deployed["root"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: httpx.post(
                f"{deployed['api_url']}/deployments/filter",
                json={"deployments": {"name": {"any_": ["casefinder-weekly-served"]}}},
                timeout=30,
            ).json(),
            "the served deployment",
            deadline_s=600,
            every_s=0.5,
        )
        run_id = _start_run(deployed, {}, "weekly_run/casefinder-weekly-served")
        state = _final_state(deployed, run_id)
        assert state["type"] == "COMPLETED", (
            state,
            log_file.read_text(errors="replace")[-4000:],
        )
        assert sorted((out / "lists" / EXTRACT_DATE).glob("*/proactive_care_list.csv"))
    finally:
        stop_group(served, grace_s=60)
