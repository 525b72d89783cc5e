"""Cut one simulated chunk at the extract date into contract-shaped tables of text columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.contract import FILES
from synthetic import params as P
from synthetic.population import Geography
from synthetic.reference import Reference
from synthetic.simulate import (
    CASELOAD_TEAMS,
    DESTINATIONS,
    EMERGENCY_METHODS,
    LOCATIONS,
    METHODS,
    NEVER,
    PRIORITIES,
    SOCIAL_TYPES,
    TEAMS,
    ChunkEvents,
)

PROVIDERS = ("SYN01", "SYN02", "SYN03")
OPT_OUT_KINDS = ("type1", "ndoo")
SOCIAL_KIND_NAMES = ("home_care", "reablement", "residential_care", "nursing_care", "equipment")
assert set(SOCIAL_KIND_NAMES) <= set(SOCIAL_TYPES)


@dataclass(frozen=True)
class Cut:
    """The extract date and the rules that follow from it."""

    extract_day: int
    seed: int
    chunk: int

    def rng(self, stream: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, self.chunk, 3, stream]))


def _text(values: np.ndarray) -> pl.Series:
    """Text (None = null) from a numpy array of str/object."""
    return pl.Series(values.tolist(), dtype=pl.Utf8)


def _date(days: np.ndarray) -> pl.Series:
    return pl.from_epoch(pl.Series(np.asarray(days, dtype=np.int64)), time_unit="d").dt.strftime(
        "%Y-%m-%d"
    )


def _date_or_null(days: np.ndarray, valid: np.ndarray) -> pl.Series:
    s = _date(np.where(valid, days, 0))
    return pl.select(pl.when(pl.Series(valid)).then(s).otherwise(None)).to_series()


def _datetime(days: np.ndarray, minutes: np.ndarray, rng: np.random.Generator) -> pl.Series:
    seconds = np.asarray(days, dtype=np.int64) * 86400 + np.asarray(minutes, dtype=np.int64) * 60
    seconds = seconds + rng.integers(0, 60, seconds.size) * (rng.random(seconds.size) < 0.5)
    ts = pl.from_epoch(pl.Series(seconds), time_unit="s")
    with_t = pl.Series(rng.random(seconds.size) < P.DATETIME_WITH_T)
    return pl.select(
        pl.when(with_t)
        .then(ts.dt.strftime("%Y-%m-%dT%H:%M"))
        .otherwise(ts.dt.strftime("%Y-%m-%d %H:%M:%S"))
    ).to_series()


def nhs_text(numbers: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Ten digits, a few written `999 123 4567` or `999-123-4567` (valid per the contract)."""
    plain = pl.Series(np.asarray(numbers, dtype=np.int64)).cast(pl.Utf8).str.zfill(10)
    u = pl.Series(rng.random(plain.len()))
    spaced = plain.str.slice(0, 3) + " " + plain.str.slice(3, 3) + " " + plain.str.slice(6, 4)
    hyphen = plain.str.slice(0, 3) + "-" + plain.str.slice(3, 3) + "-" + plain.str.slice(6, 4)
    return pl.select(
        pl.when(u < P.NHS_NUMBER_SPACED)
        .then(spaced)
        .when(u < P.NHS_NUMBER_SPACED + P.NHS_NUMBER_HYPHENATED)
        .then(hyphen)
        .otherwise(plain)
    ).to_series()


def _number_text(values: np.ndarray) -> pl.Series:
    v = pl.Series(np.asarray(values, dtype=float))
    integral = (v == v.round(0)) & v.is_not_nan()
    return pl.select(
        pl.when(v.is_nan())
        .then(None)
        .when(integral)
        .then(v.fill_nan(0).cast(pl.Int64).cast(pl.Utf8))
        .otherwise(v.round(1).cast(pl.Utf8))
    ).to_series()


def _ids(prefix: str, pid: np.ndarray, seq: np.ndarray, width: int) -> pl.Series:
    return (
        prefix
        + pl.Series(np.asarray(pid, dtype=np.int64)).cast(pl.Utf8).str.zfill(7)
        + pl.Series(np.asarray(seq, dtype=np.int64)).cast(pl.Utf8).str.zfill(width)
    )


def _frame(name: str, columns: dict[str, pl.Series | list | np.ndarray]) -> pl.DataFrame:
    """A frame with the contract's columns in contract order, all text."""
    order = FILES[name].column_names
    n = len(next(iter(columns.values())))
    data = {}
    for col in order:
        if col in columns:
            s = columns[col]
            data[col] = s.alias(col) if isinstance(s, pl.Series) else pl.Series(col, s)
        else:
            data[col] = pl.Series(col, [None] * n, dtype=pl.Utf8)
    return pl.DataFrame(data).select(pl.all().cast(pl.Utf8))


class ChunkExtract:
    """Builds every per-person extract file for one simulated chunk."""

    def __init__(self, ev: ChunkEvents, geo: Geography, ref: Reference, cut: Cut) -> None:
        self.ev = ev
        self.pp = ev.people
        self.geo = geo
        self.ref = ref
        self.cut = cut
        self.D = cut.extract_day
        pp = self.pp
        # The last day on which a person can have a record: death, leaving, or the cut.
        self.last_day = np.minimum(np.minimum(ev.death_day, pp.leave - 1), self.D)
        self.listed = pp.reg_start <= self.D

    def _alive_rows(self, pidx: np.ndarray, day: np.ndarray) -> np.ndarray:
        return (day <= self.last_day[pidx]) & (day >= self.pp.dob[pidx]) & self.listed[pidx]

    def gp_patients(self) -> pl.DataFrame:
        pp, D, rng = self.pp, self.D, self.cut.rng(1)
        idx = np.flatnonzero(self.listed)
        death = self.ev.death_day[idx]
        end = np.minimum(pp.leave[idx], death)
        lsoa = self.geo.lsoa_code[pp.lsoa[idx]].astype(object)
        lsoa[rng.random(idx.size) < 0.02] = None
        return _frame(
            "gp_patients",
            {
                "nhs_number": nhs_text(pp.nhs[idx], rng),
                "given_name": pp.given[idx],
                "family_name": pp.family[idx],
                "date_of_birth": _date(pp.dob[idx]),
                "sex": np.array(P.SEX_CODES)[pp.sex[idx]],
                "ethnic_category": np.array(P.ETHNIC_CODES)[pp.ethnic[idx]],
                "lsoa_code": _text(lsoa),
                "practice_code": self.geo.practice_code[pp.practice[idx]],
                "registration_start_date": _date(pp.reg_start[idx]),
                "registration_end_date": _date_or_null(end, end <= D),
                "date_of_death": _date_or_null(death, death <= D),
            },
        )

    def gp_events(self) -> pl.DataFrame:
        t = self.ev.tables["gp"]
        keep = self._alive_rows(t["pidx"], t["day"])
        pidx, day, code, value = (t[k][keep] for k in ("pidx", "day", "code", "value"))
        order = np.lexsort((code, day, pidx))
        pidx, day, code, value = pidx[order], day[order], code[order], value[order]
        df = _frame(
            "gp_events",
            {
                "nhs_number": nhs_text(self.pp.nhs[pidx], self.cut.rng(2)),
                "event_date": _date(day),
                "snomed_code": self.ref.snomed_vocab[code],
                "numeric_value": _number_text(value),
            },
        )
        return df.unique(maintain_order=True)

    def gp_medications(self) -> pl.DataFrame:
        t = self.ev.tables["meds"]
        pidx = t["pidx"]
        listed = self.listed[pidx]
        pidx, med, start, stop, interval, seq = (
            t[k][listed] for k in ("pidx", "med", "start", "stop", "interval", "seq")
        )
        last = np.minimum(stop - 1, self.last_day[pidx])
        w0 = self.D - P.MEDICATION_HISTORY_DAYS
        k_min = np.maximum(0, -((start - w0 - 3) // -interval))
        k_max = np.where(last >= start, (last - start) // interval, -1)
        n = np.maximum(k_max - k_min + 1, 0)
        rows = np.repeat(np.arange(pidx.size), n)
        first = np.cumsum(n) - n
        k = k_min[rows] + (np.arange(rows.size) - first[rows])
        uid = self.pp.pid[pidx[rows]] * 1000 + seq[rows]
        jitter = ((uid * 2654435761 + k * 40503) >> 8) % 5 - 2
        day = start[rows] + k * interval[rows] + jitter
        ok = (day > w0) & (day <= last[rows]) & (day >= start[rows])
        rows, day = rows[ok], day[ok]
        p, m = pidx[rows], med[rows]
        order = np.lexsort((m, day, p))
        p, m, day = p[order], m[order], day[order]
        df = _frame(
            "gp_medications",
            {
                "nhs_number": nhs_text(self.pp.nhs[p], self.cut.rng(3)),
                "issue_date": _date(day),
                "bnf_code": self.ref.med_bnf[m],
                "description": self.ref.med_desc[m],
            },
        )
        return df.unique(maintain_order=True)

    def acute_spells(self) -> pl.DataFrame:
        t = self.ev.tables["spells"]
        d = self.ev.tables["diag"]
        keep = self._alive_rows(t["pidx"], t["adm"])
        pidx, adm, dis, method, dest, seq = (
            t[k][keep] for k in ("pidx", "adm", "dis", "method", "dest", "seq")
        )
        diag, style = d["diag"][keep], d["style"][keep]
        order = np.lexsort((seq, pidx))
        pidx, adm, dis, method, dest, seq = (x[order] for x in (pidx, adm, dis, method, dest, seq))
        diag, style = diag[order], style[order]
        open_ = dis > self.D
        neigh = self.geo.practice_neighbourhood[self.pp.practice[pidx]]
        cols: dict[str, pl.Series | list | np.ndarray] = {
            "spell_id": _ids("SP", self.pp.pid[pidx], seq, 3),
            "nhs_number": nhs_text(self.pp.nhs[pidx], self.cut.rng(4)),
            "provider_code": np.array(PROVIDERS)[neigh % len(PROVIDERS)],
            "admission_date": _date(adm),
            "discharge_date": _date_or_null(dis, ~open_),
            "admission_method": np.array(METHODS)[method],
            "discharge_destination": _text(
                np.where(open_, None, np.array(DESTINATIONS)[dest].astype(object))
            ),
        }
        for j in range(diag.shape[1]):
            text = _icd10_text(self.ref.diag_vocab, diag[:, j], style[:, j])
            cols[f"diag_{j + 1:02d}"] = _text(text)
        return _frame("acute_spells", cols)

    def ae_attendances(self) -> pl.DataFrame:
        t = self.ev.tables["ae"]
        keep = self._alive_rows(t["pidx"], t["day"])
        cols = {k: v[keep] for k, v in t.items()}
        order = np.lexsort((cols["seq"], cols["pidx"]))
        cols = {k: v[order] for k, v in cols.items()}
        rng = self.cut.rng(5)
        pidx = cols["pidx"]
        accom = cols["accom"].astype(object)
        accom[accom == ""] = None
        return _frame(
            "ae_attendances",
            {
                "attendance_id": _ids("AE", self.pp.pid[pidx], cols["seq"], 4),
                "nhs_number": nhs_text(self.pp.nhs[pidx], rng),
                "arrival_datetime": _datetime(cols["day"], cols["minute"], rng),
                "department_type": np.array(("01", "02", "03", "04"))[cols["dept"]],
                "arrival_planned": np.where(cols["planned"], "true", "false"),
                "chief_complaint_snomed": cols["complaint"],
                "accommodation_status_snomed": _text(accom),
                "admitted": np.where(cols["admitted"], "true", "false"),
            },
        )

    def community_contacts(self) -> pl.DataFrame:
        t = self.ev.tables["cc"]
        keep = self._alive_rows(t["pidx"], t["day"])
        c = {k: v[keep] for k, v in t.items()}
        # Versions: 0 = first submission (month of contact), 1.. = monthly resubmissions.
        versions = c["resub"] + 1
        rows = np.repeat(np.arange(c["pidx"].size), versions)
        first = np.cumsum(versions) - versions
        v = np.arange(rows.size) - first[rows]
        day = c["day"][rows]
        months = _month_index(day) + v
        sub_start = _month_start_day(months)
        ok = sub_start <= self.D
        rows, v, months = rows[ok], v[ok], months[ok]
        c = {k: x[rows] for k, x in c.items()}
        order = np.lexsort((months, c["seq"], c["pidx"]))
        c = {k: x[order] for k, x in c.items()}
        v, months = v[order], months[order]
        resubmitted = v > 0
        attended = np.where(resubmitted, True, c["attended"])
        duration = np.where(resubmitted, c["resub_duration"], c["duration"])
        duration = np.where(attended, duration, 0)
        rng = self.cut.rng(6)
        pidx = c["pidx"]
        has_ref = c["ref_day"] >= 0
        referral = np.where(
            c["referral"] >= 0,
            np.char.zfill(c["referral"].astype(str), 3),
            np.char.add("T", (-c["referral"] - 1).astype(str)),
        )
        person = np.char.zfill(self.pp.pid[pidx].astype(str), 7)
        ref_id = np.char.add(np.char.add(np.char.add("RF", person), "-"), referral)
        ref_dt = _datetime(np.where(has_ref, c["ref_day"], 0), c["ref_minute"], rng)
        return _frame(
            "community_contacts",
            {
                "contact_id": _ids("CC", self.pp.pid[pidx], c["seq"], 5),
                "submission_id": (months // 12 * 100 + months % 12 + 1).astype(str),
                "nhs_number": nhs_text(self.pp.nhs[pidx], rng),
                "referral_id": ref_id,
                "referral_received_datetime": pl.select(
                    pl.when(pl.Series(has_ref)).then(ref_dt).otherwise(None)
                ).to_series(),
                "contact_datetime": _datetime(c["day"], c["minute"], rng),
                "team_type": np.array(TEAMS)[c["team"]],
                "priority": np.array(PRIORITIES)[c["priority"]],
                "attended": np.where(attended, "true", "false"),
                "duration_minutes": duration.astype(str),
                "location": np.array(LOCATIONS)[c["location"]],
            },
        )

    def _episodes(self, name: str) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        t = self.ev.tables.get(name)
        if t is None:
            empty = np.zeros(0, dtype=np.int64)
            return {"pidx": empty}, empty, empty
        keep = self._alive_rows(t["pidx"], t["start"])
        c = {k: v[keep] for k, v in t.items()}
        order = np.lexsort((c["start"], c["pidx"]))
        c = {k: v[order] for k, v in c.items()}
        stop = np.minimum(c["end"], np.minimum(self.ev.death_day, self.pp.leave)[c["pidx"]])
        return c, stop, stop <= self.D

    def social_care_services(self) -> pl.DataFrame:
        c, stop, ended = self._episodes("social")
        if c["pidx"].size == 0:
            return _frame("social_care_services", {"nhs_number": []})
        return _frame(
            "social_care_services",
            {
                "nhs_number": nhs_text(self.pp.nhs[c["pidx"]], self.cut.rng(7)),
                "service_type": np.array(SOCIAL_KIND_NAMES)[c["kind"]],
                "start_date": _date(c["start"]),
                "end_date": _date_or_null(stop, ended),
                "planned_hours_per_week": _number_text(c["hours"]),
            },
        ).unique(maintain_order=True)

    def caseload(self) -> pl.DataFrame:
        c, stop, ended = self._episodes("caseload")
        if c["pidx"].size == 0:
            return _frame("caseload", {"nhs_number": []})
        return _frame(
            "caseload",
            {
                "nhs_number": nhs_text(self.pp.nhs[c["pidx"]], self.cut.rng(8)),
                "team": np.array(CASELOAD_TEAMS)[c["team"]],
                "start_date": _date(c["start"]),
                "end_date": _date_or_null(stop, ended),
            },
        ).unique(maintain_order=True)

    def opt_outs(self) -> pl.DataFrame:
        t = self.ev.tables["optout"]
        keep = (t["day"] <= self.D) & self.listed[t["pidx"]]
        pidx, kind, day = t["pidx"][keep], t["kind"][keep], t["day"][keep]
        order = np.lexsort((kind, pidx))
        pidx, kind, day = pidx[order], kind[order], day[order]
        return _frame(
            "opt_outs",
            {
                "nhs_number": nhs_text(self.pp.nhs[pidx], self.cut.rng(9)),
                "opt_out_type": np.array(OPT_OUT_KINDS)[kind],
                "recorded_date": _date(day),
            },
        )

    def truth(self) -> pl.DataFrame:
        """Latent 12-month risk at the cut and what happened next, for the registered living."""
        ev, pp, D = self.ev, self.pp, self.D
        tp, risk = ev.truth_pidx, ev.truth_risk
        ok = (pp.reg_start[tp] <= D) & (pp.leave[tp] > D) & (ev.death_day[tp] > D)
        tp, risk = tp[ok], risk[ok]
        sp = ev.tables["spells"]
        emergency = sp["method"] < len(EMERGENCY_METHODS)
        inwin = emergency & (sp["adm"] > D) & (sp["adm"] <= D + P.FOLLOW_UP_DAYS)
        first_adm = np.full(len(pp), NEVER, dtype=np.int64)
        np.minimum.at(first_adm, sp["pidx"][inwin], sp["adm"][inwin])
        death = np.where(ev.death_day <= D + P.FOLLOW_UP_DAYS, ev.death_day, NEVER)
        adm, dth = first_adm[tp], death[tp]
        when = np.minimum(adm, dth)
        event = when < NEVER
        kind = np.where(~event, "", np.where(adm <= dth, "emergency_admission", "death"))
        order = np.argsort(pp.nhs[tp], kind="stable")
        return pl.DataFrame(
            {
                "nhs_number": pl.Series(pp.nhs[tp][order]).cast(pl.Utf8).str.zfill(10),
                "latent_risk_12m": np.round(risk[order], 6),
                "outcome_12m": event[order].astype(np.int64),
                "outcome_date": _date_or_null(when[order], event[order]),
                "outcome_type": _text(np.where(event, kind, None)[order]),
            }
        )


def _month_index(day: np.ndarray) -> np.ndarray:
    d = np.asarray(day, dtype="datetime64[D]")
    return d.astype("datetime64[M]").astype(np.int64) + 1970 * 12


def _month_start_day(months: np.ndarray) -> np.ndarray:
    return (np.asarray(months - 1970 * 12).astype("datetime64[M]").astype("datetime64[D]")).astype(
        np.int64
    )


def _icd10_text(vocab: np.ndarray, idx: np.ndarray, style: np.ndarray) -> np.ndarray:
    """HES-style ICD-10 text: mostly `I500`, sometimes `I50.0`, `F000D`, `R69-`, ` I500 `, `S7200`."""
    out = np.where(idx >= 0, vocab[np.maximum(idx, 0)], "").astype(object)
    for i in np.flatnonzero((idx >= 0) & (style > 0)):
        code = out[i]
        s = style[i]
        filler = code.endswith("X")
        if s == 1:
            out[i] = code[:3] if filler else f"{code[:3]}.{code[3:]}"
        elif s == 2:
            out[i] = code + ("D" if i % 2 else "A")
        elif s == 3:
            out[i] = (code[:3] if filler else code) + "-"
        elif s == 4:
            out[i] = f" {code}  " if i % 2 else f"{code} "
        elif s == 5 and not filler:
            out[i] = code + "0"
    out[idx < 0] = None
    return out


def practices_frame(geo: Geography) -> pl.DataFrame:
    """The practices reference file: practice, PCN and neighbourhood."""
    return _frame(
        "practices",
        {
            "practice_code": geo.practice_code,
            "practice_name": geo.practice_name,
            "pcn_code": geo.pcn_code[geo.practice_pcn],
            "pcn_name": geo.pcn_name[geo.practice_pcn],
            "neighbourhood_code": geo.neighbourhood_code[geo.practice_neighbourhood],
            "neighbourhood_name": geo.neighbourhood_name[geo.practice_neighbourhood],
        },
    )


def lsoa_frame(geo: Geography) -> pl.DataFrame:
    """LSOA codes with their IMD decile."""
    return _frame("lsoa_imd", {"lsoa_code": geo.lsoa_code, "imd_decile": geo.lsoa_imd.astype(str)})
