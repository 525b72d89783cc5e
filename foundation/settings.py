"""The one settings module: paths and options resolved once from `CASEFINDER_*` variables.

Nothing else in casefinder reads the environment. Every value has a documented default
(see `docs/data-engineer.md`); command-line options override these. The command line (or,
for a scheduled run, the weekly flow's entry) calls `load_settings()` once and passes the
flows a `RunSettings`, one typed flow parameter.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from foundation.contract import OPT_OUT_TYPES
from foundation.errors import CasefinderError

ENV_PREFIX = "CASEFINDER_"

# Prefect's default logging, with the local Prefect server's loggers writing to a file.
PREFECT_LOGGING_CONFIG = Path(__file__).with_name("prefect_logging.yml")

# Risk tiers on the calibrated 12-month probability (lower bounds, inclusive).
DEFAULT_RISK_TIERS: tuple[tuple[str, float], ...] = (
    ("very_high", 0.70),
    ("high", 0.50),
    ("moderate", 0.30),
    ("low", 0.0),
)

# Which opt-out types exclude a patient from each purpose. Rationale in docs/governance.md.
DEFAULT_OPT_OUT_POLICY: dict[str, tuple[str, ...]] = {
    "direct_care_lists": ("type1",),
    "model_training": ("type1", "ndoo"),
    "analyst_outputs": ("type1", "ndoo"),
}


# A file with more than this share of its rows quarantined stops the run after validation
# (EXTRACTS.md 1.1: an upstream format change, not bad rows); CASEFINDER_MAX_REJECTED_SHARE.
DEFAULT_MAX_REJECTED_SHARE = 0.5

# A listed patient's `change` is `up` / `down` when the risk tier changed or the score moved by
# at least this much since the neighbourhood's previous list (OUTPUTS.md 1.2);
# CASEFINDER_CHANGE_THRESHOLD.
DEFAULT_CHANGE_THRESHOLD = 0.05

# The model's outcome horizon (CASEFINDER_HORIZON_DAYS) and random seed (CASEFINDER_SEED).
DEFAULT_HORIZON_DAYS = 365
DEFAULT_SEED = 42

# CASEFINDER_DASK_ADDRESS / --dask-address: this value runs a temporary LocalCluster here;
# anything else must be a scheduler address (tcp://host:8786, tls://..., inproc://...).
DASK_LOCAL = "local"

# A patient whose last review by the team (any outcome but died / moved_away) is this many
# days old or newer is skipped in the weekly capacity cut unless their risk rose since
# (docs/neighbourhood-lead.md, "This week"); CASEFINDER_REVIEW_WINDOW_DAYS.
DEFAULT_REVIEW_WINDOW_DAYS = 84


def check_dask_address(address: str) -> str:
    """`address` when it is `local` or a Dask scheduler address, else a one-line error."""
    address = address.strip()
    if address != DASK_LOCAL and "://" not in address:
        raise CasefinderError(
            f"Dask address {address!r} is not a scheduler address like tcp://host:8786 "
            f"(or {DASK_LOCAL!r} for a cluster on this machine)"
        )
    return address


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with `load_settings()`; do not read `os.environ` elsewhere."""

    data_dir: Path
    warehouse: Path
    out_dir: Path
    extracts_dir: Path
    prefect_home: Path
    pseudonym_key: str | None = None
    key_file: Path | None = None
    log_file: Path | None = None
    notify_webhook: str | None = None
    dask_address: str | None = None
    log_level: str = "INFO"
    # True when neither CASEFINDER_PREFECT_HOME nor CASEFINDER_DATA_DIR chose the Prefect home.
    prefect_home_default: bool = False
    horizon_days: int = DEFAULT_HORIZON_DAYS
    seed: int = DEFAULT_SEED
    max_rejected_share: float = DEFAULT_MAX_REJECTED_SHARE
    change_threshold: float = DEFAULT_CHANGE_THRESHOLD
    risk_tiers: tuple[tuple[str, float], ...] = DEFAULT_RISK_TIERS
    opt_out_policy: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_OPT_OUT_POLICY)
    )
    # Weekly capacity CSV and the folder of returned lists (OUTPUTS.md "Weekly capacity").
    capacity_file: Path | None = None
    feedback_dir: Path | None = None
    review_window_days: int = DEFAULT_REVIEW_WINDOW_DAYS

    def models_dir(self, warehouse: Path | None = None) -> Path:
        """Where the model registry's files live: `models/` beside the warehouse file."""
        return models_dir_beside(warehouse or self.warehouse)

    def key_path(self, warehouse: Path | None = None) -> Path:
        """The pseudonymisation key file: the setting, else `casefinder.key` by the warehouse."""
        return key_path_for(warehouse or self.warehouse, self.key_file)

    def prefect_home_for(self, warehouse: Path | None) -> Path:
        """Prefect's home for a command on `warehouse`: the setting, else `prefect/` beside the
        warehouse (so a command run from another folder creates no `./data` there)."""
        if warehouse is None or not self.prefect_home_default:
            return self.prefect_home
        return Path(warehouse).resolve().parent / "prefect"

    def log_path(self, warehouse: Path | None = None) -> Path:
        """The log file with every detail of a run (tracebacks included): the setting, else
        `logs/casefinder.log` beside the warehouse."""
        if self.log_file is not None:
            return self.log_file
        return (warehouse or self.warehouse).resolve().parent / "logs" / "casefinder.log"

    def for_run(self, dask_address: str | None = None) -> RunSettings:
        """What a flow run takes of these settings (`dask_address`: a command-line override)."""
        return RunSettings(
            horizon_days=self.horizon_days,
            seed=self.seed,
            dask_address=dask_address or self.dask_address,
            max_rejected_share=self.max_rejected_share,
            change_threshold=self.change_threshold,
            review_window_days=self.review_window_days,
            capacity_file=self.capacity_file,
            feedback_dir=self.feedback_dir,
            risk_tiers=self.risk_tiers,
            opt_out_policy=dict(self.opt_out_policy),
            key_file=self.key_file,
            pseudonym_key=SecretStr(self.pseudonym_key) if self.pseudonym_key else None,
        )


@dataclass(frozen=True)
class RunSettings:
    """The settings a flow run uses, passed down as one typed flow parameter (or, to a
    sub-flow, as its plain values). Prefect records a flow's parameters with the run; the
    pseudonymisation key is a `SecretStr`, recorded as `**********`. The notify webhook is not
    here: the state hooks take no parameters (pipelines/notify.py, `configure`)."""

    horizon_days: int = DEFAULT_HORIZON_DAYS
    seed: int = DEFAULT_SEED
    dask_address: str | None = None
    max_rejected_share: float = DEFAULT_MAX_REJECTED_SHARE
    change_threshold: float = DEFAULT_CHANGE_THRESHOLD
    review_window_days: int = DEFAULT_REVIEW_WINDOW_DAYS
    # CASEFINDER_CAPACITY_FILE / CASEFINDER_FEEDBACK_DIR, for a run with no command line
    capacity_file: Path | None = None
    feedback_dir: Path | None = None
    risk_tiers: tuple[tuple[str, float], ...] = DEFAULT_RISK_TIERS
    opt_out_policy: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_OPT_OUT_POLICY)
    )
    key_file: Path | None = None
    pseudonym_key: SecretStr | None = None


def models_dir_beside(warehouse: Path) -> Path:
    """The model registry folder of a warehouse file: `models/` beside it."""
    return Path(warehouse).resolve().parent / "models"


def key_path_for(warehouse: Path, key_file: Path | None) -> Path:
    """The pseudonymisation key file: `key_file` when set, else `casefinder.key` by the
    warehouse."""
    if key_file is not None:
        return key_file
    return Path(warehouse).resolve().parent / "casefinder.key"


def _opt_out_policy_from(env: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Read `CASEFINDER_OPT_OUT_<PURPOSE>=type1,ndoo` overrides onto the default policy."""
    policy = dict(DEFAULT_OPT_OUT_POLICY)
    for purpose in DEFAULT_OPT_OUT_POLICY:
        name = f"{ENV_PREFIX}OPT_OUT_{purpose.upper()}"
        raw = env.get(name)
        if raw is not None:
            types = tuple(t.strip() for t in raw.split(",") if t.strip())
            unknown = sorted(set(types) - set(OPT_OUT_TYPES))
            if unknown:
                # A typo must not silently exclude nobody (hazard H4).
                raise CasefinderError(
                    f"{name} names unknown opt-out type(s) {', '.join(unknown)}; "
                    f"known: {', '.join(OPT_OUT_TYPES)}"
                )
            policy[purpose] = types
    return policy


def _dask_address_from(env: Mapping[str, str]) -> str | None:
    raw = (env.get(ENV_PREFIX + "DASK_ADDRESS") or "").strip()
    if not raw:
        return None
    try:
        return check_dask_address(raw)
    except CasefinderError as exc:
        raise CasefinderError(f"{ENV_PREFIX}DASK_ADDRESS: {exc}") from None


def _int_setting(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(ENV_PREFIX + name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise CasefinderError(f"{ENV_PREFIX}{name} must be a whole number") from None


def _horizon_days(env: Mapping[str, str]) -> int:
    days = _int_setting(env, "HORIZON_DAYS", DEFAULT_HORIZON_DAYS)
    if days < 1:
        raise CasefinderError(f"{ENV_PREFIX}HORIZON_DAYS must be at least 1")
    return days


def _share_setting(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(ENV_PREFIX + name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise CasefinderError(f"{ENV_PREFIX}{name} must be a share between 0 and 1 (e.g. 0.5)")
    return value


def load_settings(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Resolve settings from `CASEFINDER_*` variables (or `env`), with defaults under `./data`."""
    env = os.environ if env is None else env
    base = cwd or Path.cwd()

    def path(name: str, default: Path) -> Path:
        raw = env.get(ENV_PREFIX + name)
        return Path(raw).expanduser() if raw else default

    data_dir = path("DATA_DIR", base / "data")
    key_file = env.get(ENV_PREFIX + "KEY_FILE")
    log_file = env.get(ENV_PREFIX + "LOG_FILE")
    capacity_file = env.get(ENV_PREFIX + "CAPACITY_FILE")
    feedback_dir = env.get(ENV_PREFIX + "FEEDBACK_DIR")
    return Settings(
        data_dir=data_dir,
        warehouse=path("WAREHOUSE", data_dir / "warehouse.duckdb"),
        out_dir=path("OUT", data_dir / "out"),
        extracts_dir=path("EXTRACTS", data_dir / "extracts"),
        prefect_home=path("PREFECT_HOME", data_dir / "prefect"),
        pseudonym_key=env.get(ENV_PREFIX + "PSEUDONYM_KEY") or None,
        key_file=Path(key_file).expanduser() if key_file else None,
        log_file=Path(log_file).expanduser() if log_file else None,
        notify_webhook=env.get(ENV_PREFIX + "NOTIFY_WEBHOOK") or None,
        dask_address=_dask_address_from(env),
        log_level=env.get(ENV_PREFIX + "LOG_LEVEL", "INFO").upper(),
        prefect_home_default=not (
            env.get(ENV_PREFIX + "PREFECT_HOME") or env.get(ENV_PREFIX + "DATA_DIR")
        ),
        horizon_days=_horizon_days(env),
        seed=_int_setting(env, "SEED", DEFAULT_SEED),
        max_rejected_share=_share_setting(env, "MAX_REJECTED_SHARE", DEFAULT_MAX_REJECTED_SHARE),
        change_threshold=_share_setting(env, "CHANGE_THRESHOLD", DEFAULT_CHANGE_THRESHOLD),
        opt_out_policy=_opt_out_policy_from(env),
        capacity_file=Path(capacity_file).expanduser() if capacity_file else None,
        feedback_dir=Path(feedback_dir).expanduser() if feedback_dir else None,
        review_window_days=_int_setting(env, "REVIEW_WINDOW_DAYS", DEFAULT_REVIEW_WINDOW_DAYS),
    )


def configure_prefect_environment(
    settings: Settings, home: Path | None = None, create: bool = True
) -> None:
    """Point Prefect at a project-local home, switch its telemetry off, and send the local
    Prefect server's own log to `PREFECT_HOME/server.log` (PREFECT_LOGGING_CONFIG).

    `home` (default: `settings.prefect_home`) is Prefect's home when the user has not set
    PREFECT_HOME; with `create` false it is named but not created (a command that runs no
    flow). Must run before `prefect` is imported (the CLI does it first thing). Values already
    set by the user (for example `PREFECT_API_URL` of a real server) are kept.
    """
    if "PREFECT_HOME" not in os.environ:  # a user's own PREFECT_HOME: create nothing here
        home = home or settings.prefect_home
        if create:
            home.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["PREFECT_HOME"] = str(home.resolve())
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", settings.log_level)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(PREFECT_LOGGING_CONFIG))
