"""Cut one simulated chunk at the extract date into contract-shaped tables of text columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from foundation.contract import FILES
from synthetic import params
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
    """Where the extract is cut: nothing dated after `extract_day` is written."""

    extract_day: int


def unit_hash(*keys: np.ndarray | int) -> np.ndarray:
    """A float in [0, 1) from integer keys (splitmix64): row-level randomness that depends on
    what a row is, not where it sits, so extracts cut a week apart agree row for row."""
    with np.errstate(over="ignore"):
        h = np.uint64(0x9E3779B97F4A7C15)
        for k in keys:
            h = (h ^ np.asarray(k).astype(np.uint64)) * np.uint64(0xBF58476D1CE4E5B9)
            h = h ^ (h >> np.uint64(31))
            h = h * np.uint64(0x94D049BB133111EB)
            h = h ^ (h >> np.uint64(29))
    return (np.asarray(h) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _rank(key: np.ndarray) -> np.ndarray:
    """Non-negative integers in the order of `key` (equal values equal; NaN after numbers)."""
    if key.dtype.kind == "f":
        numbers = ~np.isnan(key)
        distinct, inverse = np.unique(key[numbers], return_inverse=True)
        rank = np.full(key.size, distinct.size, dtype=np.int64)
        rank[numbers] = inverse
        return rank
    return key.astype(np.int64) - key.min()


def lexsort(keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """`np.lexsort(keys)` (the last key sorts first), done as one stable sort of the keys'
    ranks packed into an int64 when they fit in 63 bits: faster for millions of rows."""
    if keys[0].size == 0:
        return np.lexsort(keys)
    ranks = [_rank(np.asarray(k)) for k in reversed(keys)]
    widths = [int(r.max()).bit_length() for r in ranks]
    if sum(widths) > 63:
        return np.lexsort(keys)
    packed = np.zeros(keys[0].size, dtype=np.int64)
    for rank, width in zip(ranks, widths, strict=True):
        packed = (packed << width) | rank
    return np.argsort(packed, kind="stable")


def _text(values: np.ndarray) -> pl.Series:
    """Text (None = null) from a numpy array of str/object."""
    return pl.Series(values.tolist(), dtype=pl.Utf8)


def pick(values: np.ndarray | tuple[str, ...], idx: np.ndarray) -> pl.Series:
    """`values[idx]` as text, by a polars gather (fast for millions of rows)."""
    table = pl.Series(np.asarray(values).tolist(), dtype=pl.Utf8)
    return table.gather(np.asarray(idx, dtype=np.int64))


def _date(days: np.ndarray) -> pl.Series:
    """YYYY-MM-DD text of day numbers, via a lookup table of the days spanned."""
    days = np.asarray(days, dtype=np.int64)
    if days.size == 0:
        return pl.Series([], dtype=pl.Utf8)
    lo = int(days.min())
    span = pl.Series(np.arange(lo, int(days.max()) + 1, dtype=np.int64))
    table = pl.from_epoch(span, time_unit="d").dt.strftime("%Y-%m-%d")
    return table.gather(days - lo)


def _date_or_null(days: np.ndarray, valid: np.ndarray) -> pl.Series:
    s = _date(np.where(valid, days, 0))
    return pl.select(pl.when(pl.Series(valid)).then(s).otherwise(None)).to_series()


def _datetime(days: np.ndarray, minutes: np.ndarray, salt: int) -> pl.Series:
    days = np.asarray(days, dtype=np.int64)
    minutes = np.asarray(minutes, dtype=np.int64)
    u = unit_hash(days, minutes, salt)
    seconds = days * 86400 + minutes * 60 + np.where(u < 0.5, (u * 120).astype(np.int64), 0)
    ts = pl.from_epoch(pl.Series(seconds), time_unit="s")
    with_t = pl.Series(unit_hash(days, minutes, salt + 1) < params.DATETIME_WITH_T)
    return pl.select(
        pl.when(with_t)
        .then(ts.dt.strftime("%Y-%m-%dT%H:%M"))
        .otherwise(ts.dt.strftime("%Y-%m-%d %H:%M:%S"))
    ).to_series()


class NhsText:
    """NHS numbers as text: ten digits, a few written `999 123 4567` or `999-123-4567`.

    Which form a row gets is a hash of the number, a row key and a salt, so a row keeps its
    form in every extract that contains it.
    """

    def __init__(self, numbers: np.ndarray) -> None:
        self.numbers = np.asarray(numbers, dtype=np.int64)
        plain = pl.Series(self.numbers).cast(pl.Utf8).str.zfill(10)
        frame = pl.DataFrame({"n": plain}).select(
            pl.col("n"),
            pl.concat_str(
                [
                    pl.col("n").str.slice(0, 3),
                    pl.col("n").str.slice(3, 3),
                    pl.col("n").str.slice(6),
                ],
                separator=" ",
            ).alias("s"),
            pl.concat_str(
                [
                    pl.col("n").str.slice(0, 3),
                    pl.col("n").str.slice(3, 3),
                    pl.col("n").str.slice(6),
                ],
                separator="-",
            ).alias("h"),
        )
        self.table = pl.concat([frame["n"], frame["s"], frame["h"]])

    def __call__(self, pidx: np.ndarray, key: np.ndarray | int, salt: int) -> pl.Series:
        pidx = np.asarray(pidx, dtype=np.int64)
        u = unit_hash(self.numbers[pidx], key, salt)
        spaced = params.NHS_NUMBER_SPACED
        form = np.where(u < spaced, 1, np.where(u < spaced + params.NHS_NUMBER_HYPHENATED, 2, 0))
        return self.table.gather(form * self.numbers.size + pidx)


def nhs_text(numbers: np.ndarray, key: np.ndarray | int, salt: int) -> pl.Series:
    """NHS numbers (int) as contract text; see `NhsText`."""
    unique, inverse = np.unique(np.asarray(numbers, dtype=np.int64), return_inverse=True)
    return NhsText(unique)(inverse, key, salt)


def _number_text(values: np.ndarray) -> pl.Series:
    """Numbers as text (whole numbers without a decimal point, others to 1 decimal place);
    NaN is null. Only the numbers present are formatted."""
    values = np.asarray(values, dtype=float)
    present = np.flatnonzero(~np.isnan(values))
    v = pl.Series(values[present])
    text = pl.select(
        pl.when(v == v.round(0))
        .then(v.cast(pl.Int64).cast(pl.Utf8))
        .otherwise(v.round(1).cast(pl.Utf8))
    ).to_series()
    return pl.repeat(None, values.size, dtype=pl.Utf8, eager=True).scatter(present, text)


def _ids(prefix: str, pid: np.ndarray, seq: np.ndarray, width: int) -> pl.Series:
    number = np.asarray(pid, dtype=np.int64) * 10**width + np.asarray(seq, dtype=np.int64)
    digits = pl.Series(number).cast(pl.Utf8).str.zfill(7 + width)
    return pl.select(pl.concat_str([pl.lit(prefix), digits])).to_series()


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
        self.cut_day = cut.extract_day
        pp = self.pp
        # The last day on which a person can have a record: death, leaving, or the cut.
        self.last_day = np.minimum(np.minimum(ev.death_day, pp.leave - 1), self.cut_day)
        self.listed = pp.reg_start <= self.cut_day
        self.nhs = NhsText(pp.nhs)

    def _alive_rows(self, pidx: np.ndarray, day: np.ndarray) -> np.ndarray:
        return (day <= self.last_day[pidx]) & (day >= self.pp.dob[pidx]) & self.listed[pidx]

    def gp_patients(self) -> pl.DataFrame:
        pp, cut_day = self.pp, self.cut_day
        idx = np.flatnonzero(self.listed)
        death = self.ev.death_day[idx]
        end = np.minimum(pp.leave[idx], death)
        lsoa = self.geo.lsoa_code[pp.lsoa[idx]].astype(object)
        lsoa[unit_hash(pp.nhs[idx], 2) < 0.02] = None
        return _frame(
            "gp_patients",
            {
                "nhs_number": self.nhs(idx, 0, 1),
                "given_name": pp.given[idx],
                "family_name": pp.family[idx],
                "date_of_birth": _date(pp.dob[idx]),
                "sex": np.array(params.SEX_CODES)[pp.sex[idx]],
                "ethnic_category": np.array(params.ETHNIC_CODES)[pp.ethnic[idx]],
                "lsoa_code": _text(lsoa),
                "practice_code": self.geo.practice_code[pp.practice[idx]],
                "registration_start_date": _date(pp.reg_start[idx]),
                "registration_end_date": _date_or_null(end, end <= cut_day),
                "date_of_death": _date_or_null(death, death <= cut_day),
            },
        )

    def gp_events(self) -> pl.DataFrame:
        t = self.ev.tables["gp"]
        keep = self._alive_rows(t["pidx"], t["day"])
        pidx, day, code, value = (t[k][keep] for k in ("pidx", "day", "code", "value"))
        order = lexsort((value, code, day, pidx))
        pidx, day, code, value = pidx[order], day[order], code[order], value[order]
        same = np.zeros(pidx.size, dtype=bool)
        same[1:] = (
            (pidx[1:] == pidx[:-1])
            & (day[1:] == day[:-1])
            & (code[1:] == code[:-1])
            & ((value[1:] == value[:-1]) | (np.isnan(value[1:]) & np.isnan(value[:-1])))
        )
        pidx, day, code, value = pidx[~same], day[~same], code[~same], value[~same]
        return _frame(
            "gp_events",
            {
                "nhs_number": self.nhs(pidx, day * 100_000 + code, 3),
                "event_date": _date(day),
                "snomed_code": pick(self.ref.snomed_vocab, code),
                "numeric_value": _number_text(value),
            },
        )

    def gp_medications(self) -> pl.DataFrame:
        t = self.ev.tables["meds"]
        pidx = t["pidx"]
        listed = self.listed[pidx]
        pidx, med, start, stop, interval, seq = (
            t[k][listed] for k in ("pidx", "med", "start", "stop", "interval", "seq")
        )
        last = np.minimum(stop - 1, self.last_day[pidx])
        w0 = self.cut_day - params.MEDICATION_HISTORY_DAYS
        # Issue k falls on start + k * interval + jitter (jitter -2..2 days).
        k_min = np.maximum(0, -((start - w0 + 2) // interval))
        k_max = np.where(last >= start, (last + 2 - start) // interval, -1)
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
        order = lexsort((m, day, p))
        p, m, day = p[order], m[order], day[order]
        same = np.zeros(p.size, dtype=bool)
        same[1:] = (p[1:] == p[:-1]) & (m[1:] == m[:-1]) & (day[1:] == day[:-1])
        p, m, day = p[~same], m[~same], day[~same]
        return _frame(
            "gp_medications",
            {
                "nhs_number": self.nhs(p, day * 100 + m, 4),
                "issue_date": _date(day),
                "bnf_code": pick(self.ref.med_bnf, m),
                "description": pick(self.ref.med_desc, m),
            },
        )

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
        open_ = dis > self.cut_day
        neigh = self.geo.practice_neighbourhood[self.pp.practice[pidx]]
        cols: dict[str, pl.Series | list | np.ndarray] = {
            "spell_id": _ids("SP", self.pp.pid[pidx], seq, 3),
            "nhs_number": self.nhs(pidx, seq, 5),
            "provider_code": np.array(PROVIDERS)[neigh % len(PROVIDERS)],
            "admission_date": _date(adm),
            "discharge_date": _date_or_null(dis, ~open_),
            "admission_method": np.array(METHODS)[method],
            "discharge_destination": _text(
                np.where(open_, None, np.array(DESTINATIONS)[dest].astype(object))
            ),
        }
        for j in range(diag.shape[1]):
            variant = unit_hash(self.pp.pid[pidx], seq, j) < 0.5
            text = _icd10_text(self.ref.diag_vocab, diag[:, j], style[:, j], variant)
            cols[f"diag_{j + 1:02d}"] = _text(text)
        return _frame("acute_spells", cols)

    def ae_attendances(self) -> pl.DataFrame:
        t = self.ev.tables["ae"]
        keep = self._alive_rows(t["pidx"], t["day"])
        cols = {k: v[keep] for k, v in t.items()}
        order = np.lexsort((cols["seq"], cols["pidx"]))
        cols = {k: v[order] for k, v in cols.items()}
        pidx = cols["pidx"]
        accom = cols["accom"].astype(object)
        accom[accom == ""] = None
        return _frame(
            "ae_attendances",
            {
                "attendance_id": _ids("AE", self.pp.pid[pidx], cols["seq"], 4),
                "nhs_number": self.nhs(pidx, cols["seq"], 6),
                "arrival_datetime": _datetime(cols["day"], cols["minute"], 7),
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
        ok = sub_start <= self.cut_day
        rows, v, months = rows[ok], v[ok], months[ok]
        c = {k: x[rows] for k, x in c.items()}
        order = lexsort((months, c["seq"], c["pidx"]))
        c = {k: x[order] for k, x in c.items()}
        v, months = v[order], months[order]
        resubmitted = v > 0
        attended = np.where(resubmitted, True, c["attended"])
        duration = np.where(resubmitted, c["resub_duration"], c["duration"])
        duration = np.where(attended, duration, 0)
        pidx = c["pidx"]
        has_ref = c["ref_day"] >= 0
        # Referral ids: RF<person>-<referral number>, or -T<team> for contacts without one.
        referral = pl.Series(c["referral"])
        ref_id = pl.select(
            pl.concat_str(
                [
                    pl.lit("RF"),
                    pl.Series(self.pp.pid[pidx]).cast(pl.Utf8).str.zfill(7),
                    pl.lit("-"),
                    pl.when(referral >= 0)
                    .then(referral.cast(pl.Utf8).str.zfill(3))
                    .otherwise(pl.concat_str([pl.lit("T"), (-referral - 1).cast(pl.Utf8)])),
                ]
            )
        ).to_series()
        ref_dt = _datetime(np.where(has_ref, c["ref_day"], 0), c["ref_minute"], 9)
        return _frame(
            "community_contacts",
            {
                "contact_id": _ids("CC", self.pp.pid[pidx], c["seq"], 5),
                "submission_id": pl.Series(months // 12 * 100 + months % 12 + 1).cast(pl.Utf8),
                "nhs_number": self.nhs(pidx, c["seq"] * 16 + v, 10),
                "referral_id": ref_id,
                "referral_received_datetime": pl.select(
                    pl.when(pl.Series(has_ref)).then(ref_dt).otherwise(None)
                ).to_series(),
                "contact_datetime": _datetime(c["day"], c["minute"], 11),
                "team_type": pick(TEAMS, c["team"]),
                "priority": pick(PRIORITIES, c["priority"]),
                "attended": pick(("false", "true"), attended),
                "duration_minutes": pl.Series(duration).cast(pl.Utf8),
                "location": pick(LOCATIONS, c["location"]),
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
        return c, stop, stop <= self.cut_day

    def social_care_services(self) -> pl.DataFrame:
        c, stop, ended = self._episodes("social")
        if c["pidx"].size == 0:
            return _frame("social_care_services", {"nhs_number": []})
        return _frame(
            "social_care_services",
            {
                "nhs_number": self.nhs(c["pidx"], c["start"], 12),
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
                "nhs_number": self.nhs(c["pidx"], c["start"], 13),
                "team": np.array(CASELOAD_TEAMS)[c["team"]],
                "start_date": _date(c["start"]),
                "end_date": _date_or_null(stop, ended),
            },
        ).unique(maintain_order=True)

    def opt_outs(self) -> pl.DataFrame:
        t = self.ev.tables["optout"]
        keep = (t["day"] <= self.cut_day) & self.listed[t["pidx"]]
        pidx, kind, day = t["pidx"][keep], t["kind"][keep], t["day"][keep]
        order = np.lexsort((kind, pidx))
        pidx, kind, day = pidx[order], kind[order], day[order]
        return _frame(
            "opt_outs",
            {
                "nhs_number": self.nhs(pidx, kind, 14),
                "opt_out_type": np.array(OPT_OUT_KINDS)[kind],
                "recorded_date": _date(day),
            },
        )

    def truth(self) -> pl.DataFrame:
        """Latent 12-month risk at the cut and what happened next, for the registered living."""
        ev, pp, cut_day = self.ev, self.pp, self.cut_day
        tp, risk = ev.truth_pidx, ev.truth_risk
        ok = (pp.reg_start[tp] <= cut_day) & (pp.leave[tp] > cut_day) & (ev.death_day[tp] > cut_day)
        tp, risk = tp[ok], risk[ok]
        sp = ev.tables["spells"]
        emergency = sp["method"] < len(EMERGENCY_METHODS)
        inwin = emergency & (sp["adm"] > cut_day) & (sp["adm"] <= cut_day + params.FOLLOW_UP_DAYS)
        first_adm = np.full(len(pp), NEVER, dtype=np.int64)
        np.minimum.at(first_adm, sp["pidx"][inwin], sp["adm"][inwin])
        death = np.where(ev.death_day <= cut_day + params.FOLLOW_UP_DAYS, ev.death_day, NEVER)
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


def _icd10_text(
    vocab: np.ndarray, idx: np.ndarray, style: np.ndarray, variant: np.ndarray | None = None
) -> np.ndarray:
    """HES-style ICD-10: mostly `I500`; sometimes `I50.0`, `F000D`, `R69-`, ` I500 `, `S7200`."""
    out = np.where(idx >= 0, vocab[np.maximum(idx, 0)], "").astype(object)
    if variant is None:
        variant = np.arange(idx.size) % 2 == 1
    for i in np.flatnonzero((idx >= 0) & (style > 0)):
        code = out[i]
        s = style[i]
        filler = code.endswith("X")
        if s == 1:
            out[i] = code[:3] if filler else f"{code[:3]}.{code[3:]}"
        elif s == 2:
            out[i] = code + ("D" if variant[i] else "A")
        elif s == 3:
            out[i] = (code[:3] if filler else code) + "-"
        elif s == 4:
            out[i] = f" {code}  " if variant[i] else f"{code} "
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
