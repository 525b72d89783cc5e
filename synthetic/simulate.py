"""The latent health process of one chunk of persons, stepped on an absolute 28-day calendar.

Every person carries a latent frailty `phi` (logit scale) that drifts upwards with age and
jumps after admissions and falls, plus an unobservable personal risk `hidden`. Each step draws,
from hazards that depend on them: deaths, emergency and elective spells, falls, A&E
attendances, new eFI deficits and their re-recording, routine GP entries, numeric
observations, housebound / care home transitions, community contacts, social care, caseload
and medicines. Randomness for step `s` of chunk `c` comes from `SeedSequence([seed, c, 2, s])`
only, so extending the simulation (a later extract date) never changes earlier steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synthetic import params
from synthetic.population import People
from synthetic.reference import Reference

YEAR = 365.25
NEVER = np.iinfo(np.int64).max // 4

EMERGENCY_METHODS = ("21", "22", "2D", "2A", "23", "24", "2B", "28", "25")
EMERGENCY_METHOD_CUM = np.cumsum([0.70, 0.12, 0.05, 0.03, 0.03, 0.03, 0.02, 0.015, 0.005])
ELECTIVE_METHODS = ("11", "12", "13")
MATERNITY_METHODS = ("31", "32")
METHODS = EMERGENCY_METHODS + ELECTIVE_METHODS + MATERNITY_METHODS
DESTINATIONS = ("19", "29", "51", "54", "65", "85", "79")
CAUSES = ("fall", "infection", "cardiac", "neuro", "general", "young", "elective", "maternity")
TEAMS = (
    "district_nursing",
    "urgent_community_response",
    "reablement",
    "community_matron",
    "therapy",
    "palliative_care",
    "other",
)
PRIORITIES = ("urgent_2h", "urgent_2d", "routine")
LOCATIONS = ("home", "care_home", "clinic", "other")
SOCIAL_TYPES = ("home_care", "reablement", "residential_care", "nursing_care", "equipment")
CASELOAD_TEAMS = ("community_matron", "frailty_mdt", "proactive_care")
N_DIAG = 20
ROUTINE_VALUE_KINDS = (
    "systolic_bp",
    "diastolic_bp",
    "weight_kg",
    "bmi",
    "height_cm",
    "creatinine",
    "cholesterol",
)


class Table:
    """Column arrays collected step by step, concatenated at the end."""

    def __init__(self) -> None:
        self._parts: dict[str, list[np.ndarray]] = {}

    def add(self, **columns: np.ndarray) -> None:
        for name, values in columns.items():
            self._parts.setdefault(name, []).append(np.asarray(values))

    def concat(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) for k, v in self._parts.items()}


@dataclass
class ChunkEvents:
    """Everything simulated for one chunk, as column arrays keyed by local person index."""

    people: People
    death_day: np.ndarray
    tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    truth_pidx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    truth_risk: np.ndarray = field(default_factory=lambda: np.zeros(0))


def expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def housebound_rate(phi: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Yearly rate of becoming housebound: mostly the frail, more with great age."""
    return params.HOUSEBOUND_MAX * expit(
        params.HOUSEBOUND_PHI_SCALE * (phi - params.HOUSEBOUND_PHI_CENTRE)
        + params.HOUSEBOUND_AGE_SLOPE * (age - 80.0)
    )


def saturate(rate: np.ndarray) -> np.ndarray:
    """A yearly emergency hazard bent softly under `EMERGENCY_CEILING` (linear when small)."""
    return params.EMERGENCY_CEILING * -np.expm1(-rate / params.EMERGENCY_CEILING)


def personal_uniforms(pid: np.ndarray, k: int) -> np.ndarray:
    """`k` uniforms per person that depend only on the person (a SplitMix64 hash of the global
    person index): the same draws at every spell, whatever the step or chunk."""
    z = pid.astype(np.uint64)[:, None] * np.uint64(64) + np.arange(k, dtype=np.uint64)[None, :]
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _pick(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cum, u, side="right"), cum.size - 1)


def _p(rate: np.ndarray | float, dt: float) -> np.ndarray:
    return 1.0 - np.exp(-np.asarray(rate) * dt)


def _p_of(rates: list[float], which: np.ndarray, dt: float) -> np.ndarray:
    """`_p(rates[which], dt)`, with one exponential per distinct rate instead of per person."""
    return _p(np.array(rates), dt)[which]


class _Sim:
    """One chunk's state and output tables; `run` steps it to the end day."""

    def __init__(self, people: People, ref: Reference, seed: int, chunk: int) -> None:
        self.pp = people
        self.ref = ref
        self.seed = seed
        self.chunk = chunk
        n = len(people)
        self.n = n
        self.phi = people.phi0.copy()
        self.death = np.full(n, NEVER, dtype=np.int64)
        self.hb = np.zeros(n, dtype=bool)
        self.hb_temp = np.zeros(n, dtype=bool)
        self.ch = np.zeros(n, dtype=bool)
        self.palliative = np.zeros(n, dtype=bool)
        self.crisis = np.zeros(n, dtype=bool)
        self.defmask = np.zeros(n, dtype=np.uint64)
        self.n_def = np.zeros(n, dtype=np.int64)
        self.recent_adm = np.zeros(n)
        self.recent_fall = np.zeros(n)
        self.in_hosp = np.zeros(n, dtype=np.int64)
        self.spell_seq = np.zeros(n, dtype=np.int64)
        self.ae_seq = np.zeros(n, dtype=np.int64)
        self.contact_seq = np.zeros(n, dtype=np.int64)
        self.referral_seq = np.zeros(n, dtype=np.int64)
        self.med_seq = np.zeros(n, dtype=np.int64)
        self.t = {
            name: Table()
            for name in ("gp", "meds", "spells", "ae", "cc", "social", "caseload", "optout")
        }
        by_indication: dict[str, list[int]] = {}
        for i, ind in enumerate(ref.med_indication):
            by_indication.setdefault(ind, []).append(i)
        self.med_by_indication = {k: np.array(v) for k, v in by_indication.items()}
        self.slug_bit = {s: i for i, s in enumerate(ref.deficit_slugs)}
        self.chronic_meds = np.array(
            [i for i, ind in enumerate(ref.med_indication) if ind != "acute"], dtype=np.int64
        )
        self.deficit_cum = np.cumsum(ref.deficit_weights) / ref.deficit_weights.sum()
        kind_index = {k: i for i, k in enumerate(ROUTINE_VALUE_KINDS)}
        self.routine_kind = np.array([kind_index.get(k, -1) for k in ref.routine_kind])
        self.fall_hidden = np.exp(0.3 * people.hidden)  # the fall hazard's personal factor

    # ---- helpers that emit rows -------------------------------------------------------
    def gp(self, pidx: np.ndarray, day: np.ndarray, code: np.ndarray, value=None) -> None:
        if pidx.size == 0:
            return
        if value is None:
            value = np.full(pidx.size, np.nan)
        self.t["gp"].add(
            pidx=pidx,
            day=np.asarray(day, dtype=np.int64),
            code=code,
            value=np.asarray(value, float),
        )

    def deficit_code(self, bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A SNOMED code (vocab index) for each deficit bit, common codes more often."""
        ref = self.ref
        rank = (ref.deficit_code_count[bits] * rng.random(bits.size) ** 3).astype(np.int64)
        rank = np.minimum(rank, ref.deficit_code_count[bits] - 1)
        return ref.deficit_codes[ref.deficit_code_offset[bits] + rank]

    def misc_code(self, category: str, n: int, rng: np.random.Generator, skew: float = 2.0):
        codes = self.ref.misc[category]
        rank = np.minimum((codes.size * rng.random(n) ** skew).astype(np.int64), codes.size - 1)
        return codes[rank]

    def start_meds(self, pidx, bits, day, rng) -> None:
        """Start the medicines indicated by newly recorded deficits."""
        slugs = self.ref.deficit_slugs
        for b in np.unique(bits):
            meds = self.med_by_indication.get(slugs[b])
            if meds is None:
                continue
            sel = bits == b
            who_b, day_b = pidx[sel], day[sel]
            for m in meds:
                take = rng.random(who_b.size) < self.ref.med_start_p[m]
                who = who_b[take]
                if who.size == 0:
                    continue
                start = day_b[take] + rng.integers(0, 45, who.size)
                self.add_meds(who, np.full(who.size, m), start, rng, chronic=True)

    def add_meds(self, who, med, start, rng, chronic: bool) -> None:
        n = who.size
        seq = self.med_seq[who]
        np.add.at(self.med_seq, who, 1)
        if chronic:
            stop = start + (rng.exponential(8.0, n) * YEAR).astype(np.int64)
            interval = np.where(rng.random(n) < 0.3, 28, 56)
        else:
            stop = start + 1
            interval = np.full(n, 28)
        self.t["meds"].add(pidx=who, med=med, start=start, stop=stop, interval=interval, seq=seq)

    def contacts(self, who, day, minute, team, priority, location, rng, ref_day=None, ref_min=None):
        n = who.size
        if n == 0:
            return
        seq = self.contact_seq[who].copy()
        np.add.at(self.contact_seq, who, 1)
        ref_day_given = ref_day is not None
        if ref_day is None:
            ref_day = np.full(n, -1)
            ref_min = np.zeros(n, dtype=np.int64)
        attended = rng.random(n) >= params.CSDS_DID_NOT_ATTEND
        resub = (rng.random(n) < params.CSDS_RESUBMISSION).astype(np.int64)
        resub += (resub > 0) & (rng.random(n) < 0.25)
        self.t["cc"].add(
            pidx=who,
            day=day,
            minute=minute,
            ref_day=ref_day,
            ref_minute=ref_min,
            team=np.full(n, team) if np.isscalar(team) else team,
            priority=np.full(n, priority),
            location=location,
            attended=attended,
            duration=rng.integers(10, 75, n),
            resub=resub,
            resub_duration=rng.integers(10, 75, n),
            seq=seq,
            referral=self.referral_seq[who].copy() if ref_day_given else np.full(n, -1 - team),
        )

    def new_referral(self, who) -> None:
        np.add.at(self.referral_seq, who, 1)

    def social(self, who, kind, start, end, hours) -> None:
        if who.size:
            self.t["social"].add(
                pidx=who, kind=np.full(who.size, kind), start=start, end=end, hours=hours
            )

    def location_of(self, who) -> np.ndarray:
        return np.where(self.ch[who], LOCATIONS.index("care_home"), LOCATIONS.index("home"))

    # ---- initial state -----------------------------------------------------------------
    def init(self) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.chunk, 1]))
        pp, ref, n = self.pp, self.ref, self.n
        entry = pp.entry
        age = (entry - pp.dob) / YEAR
        frail = expit(self.phi)
        k = np.minimum(rng.poisson(params.DEFICITS_PER_FRAILTY * frail * pp.coding), 25)
        logw = np.where(
            ref.deficit_weights > 0, np.log(np.maximum(ref.deficit_weights, 1e-12)), -np.inf
        )
        keys = logw[None, :] + rng.gumbel(size=(n, logw.size))
        order = np.argsort(-keys, axis=1)
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(logw.size)[None, :].repeat(n, 0), axis=1)
        chosen = (ranks < k[:, None]) & np.isfinite(keys)
        pidx, bits = np.nonzero(chosen)
        span = np.minimum(15 * YEAR, np.maximum(age[pidx] - 16, 0.1) * YEAR)
        day = entry[pidx] - 1 - (rng.random(pidx.size) * span).astype(np.int64)
        self.gp(pidx, day, self.deficit_code(bits, rng))
        again = rng.random(pidx.size) < 0.5
        day2 = day + (rng.random(pidx.size) * (entry[pidx] - day)).astype(np.int64)
        self.gp(pidx[again], day2[again], self.deficit_code(bits[again], rng))
        np.bitwise_or.at(self.defmask, pidx, np.left_shift(np.uint64(1), bits.astype(np.uint64)))
        self.n_def = chosen.sum(axis=1)
        self.start_meds(pidx, bits, day, rng)
        # Background repeat medicines, more with age (statins, analgesia, PPIs, ...).
        bg = rng.poisson(np.maximum(age - 40, 0) * params.BACKGROUND_MEDS_PER_YEAR_OVER_40)
        who = np.repeat(np.arange(n), bg)
        pool = self.chronic_meds
        start = entry[who] - rng.integers(1, 5 * 365, who.size)
        self.add_meds(who, pool[rng.integers(0, pool.size, who.size)], start, rng, chronic=True)
        # Housebound and care home at entry, near their steady state.
        lam_hb = housebound_rate(self.phi, age)
        lam_d = np.exp(
            params.DEATH_LOG_INTERCEPT
            + params.DEATH_PHI_SLOPE * self.phi
            + params.DEATH_AGE_SLOPE * (age - 80)
        )
        p_hb = np.where(
            age >= params.HOUSEBOUND_MIN_AGE,
            lam_hb / (lam_hb + params.HOUSEBOUND_RECOVERY + lam_d + 0.3),
            0.0,
        )
        hb = rng.random(n) < p_hb
        who = np.flatnonzero(hb)
        hb_day = entry[who] - 1 - rng.integers(0, 3 * 365, who.size)
        self.gp(who, hb_day, self.misc_code("housebound", who.size, rng, skew=3.0))
        self.hb[who] = True
        lam_ch = params.CARE_HOME_BASE + params.CARE_HOME_FRAIL * frail[who]
        ch = rng.random(who.size) < lam_ch / (lam_ch + lam_d[who] + 0.5)
        cw = who[ch]
        ch_day = hb_day[ch] + rng.integers(0, 365, cw.size)
        ch_day = np.minimum(ch_day, entry[cw] - 1)
        self.gp(cw, ch_day, self.misc_code("care_home_residence", cw.size, rng, skew=1.5))
        self.ch[cw] = True
        kind = np.where(rng.random(cw.size) < 0.5, 2, 3)
        for k_ in (2, 3):
            s = kind == k_
            self.social(
                cw[s], k_, ch_day[s], np.full(int(s.sum()), NEVER), np.full(int(s.sum()), np.nan)
            )
        home = who[~ch]
        hc = home[rng.random(home.size) < params.HOME_CARE_AT_HOUSEBOUND]
        self.social(
            hc,
            0,
            entry[hc] - 1 - rng.integers(0, 365, hc.size),
            entry[hc] + (rng.exponential(2.0, hc.size) * YEAR).astype(np.int64),
            np.round(rng.uniform(3, 21, hc.size) * 2) / 2,
        )
        cl = who[rng.random(who.size) < params.CASELOAD_AT_HOUSEBOUND]
        cl_start = entry[cl] - 1 - rng.integers(0, 365, cl.size)
        cl_end = entry[cl] + (
            rng.exponential(1.0 / params.CASELOAD_END_RATE, cl.size) * YEAR
        ).astype(np.int64)
        self.t["caseload"].add(
            pidx=cl, team=rng.integers(0, len(CASELOAD_TEAMS), cl.size), start=cl_start, end=cl_end
        )
        # Opt-outs (recorded on a fixed date of their own; shown once it is on or before the cut).
        for kind_, share in ((0, params.OPT_OUT_TYPE1), (1, params.OPT_OUT_NDOO)):
            w = np.flatnonzero(rng.random(n) < share)
            lo = np.maximum(pp.reg_start[w], params.day_number(params.SIM_START) - 6 * 365)
            rec = lo + (rng.random(w.size) * (params.day_number(params.ARRIVALS_END) - lo)).astype(
                np.int64
            )
            self.t["optout"].add(pidx=w, kind=np.full(w.size, kind_), day=rec)

    # ---- one step ------------------------------------------------------------------------
    def step(self, s: int, t0: int, truth_day: int | None) -> tuple[np.ndarray, np.ndarray] | None:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.chunk, 2, s]))
        pp, ref = self.pp, self.ref
        dt = params.STEP_DAYS / YEAR
        t1 = t0 + params.STEP_DAYS
        a = np.flatnonzero((self.death == NEVER) & (pp.entry < t1) & (pp.leave > t0))
        na = a.size
        if na == 0:
            return None
        phi = self.phi[a]
        frail = expit(phi)
        age = (t0 - pp.dob[a]) / YEAR
        hidden = pp.hidden[a]
        hb = self.hb[a]
        ch = self.ch[a]
        old = age >= 65
        crisis = self.crisis[a]

        def days(k: int | None = None) -> np.ndarray:
            return t0 + rng.integers(0, params.STEP_DAYS, na if k is None else k)

        def minutes(k: int, lo: int = 8 * 60, hi: int = 18 * 60) -> np.ndarray:
            return rng.integers(lo, hi, k)

        conditions = np.zeros(na)
        mask = self.defmask[a]
        for slug, weight in params.EMERGENCY_CONDITION_WEIGHTS.items():
            bit = np.uint64(self.slug_bit[slug])
            conditions += weight * ((mask >> bit) & np.uint64(1)).astype(np.float64)
        base_em = saturate(
            np.exp(
                params.EMERGENCY_LOG_INTERCEPT
                + params.EMERGENCY_PHI_SLOPE * phi
                + params.EMERGENCY_AGE_SLOPE * (age - 75.0)
                + conditions
                + hidden
                + params.EMERGENCY_RECENT_ADMISSION
                * np.minimum(self.recent_adm[a], params.EMERGENCY_RECENT_CAP)
                + params.EMERGENCY_RECENT_FALL
                * np.minimum(self.recent_fall[a], params.EMERGENCY_RECENT_CAP)
                + params.EMERGENCY_HOUSEBOUND * hb
                + params.CRISIS_EMERGENCY * crisis
            )
        )
        lam_death = np.exp(
            params.DEATH_LOG_INTERCEPT
            + params.DEATH_PHI_SLOPE * phi
            + params.DEATH_AGE_SLOPE * (age - 80)
            + params.DEATH_CARE_HOME * ch
            + params.CRISIS_DEATH * crisis
            + 0.5 * hidden
        )
        truth = None
        if truth_day is not None:
            risk = 1.0 - np.exp(-(params.EMERGENCY_FLOOR + base_em + lam_death))
            truth = (a, risk)

        # Falls.
        fall = rng.random(na) < _p(
            params.FALL_BASE + params.FALL_FRAIL * frail * self.fall_hidden[a], dt
        )
        fall_day = days()
        fi = np.flatnonzero(fall)
        coded = fi[rng.random(fi.size) < 0.7]
        self.gp(a[coded], fall_day[coded], self.misc_code("falls", coded.size, rng, skew=4.0))
        cnt = coded[rng.random(coded.size) < 0.3]
        self.gp(
            a[cnt],
            fall_day[cnt],
            np.full(cnt.size, ref.obs["falls_in_last_12_months"]),
            1 + np.minimum(rng.poisson(self.recent_fall[a[cnt]] + 0.3), 5),
        )

        # Deaths (some in hospital, as an emergency spell ending in death).
        dies = rng.random(na) < _p(lam_death, dt)
        death_day = days()
        di = np.flatnonzero(dies)
        in_hosp = di[rng.random(di.size) < np.where(ch[di], 0.2, params.DIED_IN_HOSPITAL)]
        los = np.minimum(rng.geometric(0.15, in_hosp.size) - 1, 40)
        self._spells(
            a[in_hosp],
            death_day[in_hosp] - los,
            death_day[in_hosp],
            "death",
            frail[in_hosp],
            age[in_hosp],
            ch[in_hosp],
            rng,
        )

        # Emergency admissions.
        lam_em = (params.EMERGENCY_FLOOR + base_em) * np.where(
            fall, params.FALL_ADMISSION_MULTIPLIER, 1.0
        )
        em = (rng.random(na) < _p(lam_em, dt)) & ~dies & (self.in_hosp[a] < t0)
        ei = np.flatnonzero(em)
        adm = np.where(fall[ei], fall_day[ei], days(ei.size))
        los = np.floor(
            np.exp(rng.normal(np.log(1.0 + 8.0 * frail[ei] + 0.5 * (age[ei] > 65)), 0.8))
        )
        los = np.minimum(los, 90).astype(np.int64)
        los = np.where((age[ei] < 50) & (rng.random(ei.size) < 0.35), 0, los)
        dis = adm + los
        cause = np.where(
            fall[ei] & (rng.random(ei.size) < 0.7),
            0,
            np.where(
                (age[ei] < 50) & (rng.random(ei.size) < 0.6),
                5,
                _pick(np.cumsum([0.1, 0.35, 0.2, 0.15, 0.2]), rng.random(ei.size)),
            ),
        )
        dest = self._spells(a[ei], adm, dis, cause, frail[ei], age[ei], ch[ei], rng)
        self.in_hosp[a[ei]] = dis
        self.recent_adm[a[ei]] += 1.0
        self.phi[a[ei]] += params.PHI_JUMP_ADMISSION
        # After discharge: care home moves, temporary housebound, reablement.
        # (Masks over `ei`, which holds each admitted person once, pick their discharges.)
        to_ch_sel = ((dest == 3) | (dest == 4) | (dest == 5)) & ~ch[ei]
        self._enter_care_home(a[ei[to_ch_sel]], dis[to_ch_sel], rng)
        tmp_sel = (
            (age[ei] >= params.HOUSEBOUND_AFTER_ADMISSION_AGE)
            & ~hb[ei]
            & (rng.random(ei.size) < params.HOUSEBOUND_AFTER_ADMISSION)
        )
        tmp = ei[tmp_sel]
        tmp_day = dis[tmp_sel] + rng.integers(1, 21, tmp.size)
        self.gp(a[tmp], tmp_day, np.full(tmp.size, ref.misc["housebound"][3]))
        self._become_housebound(a[tmp], tmp_day, rng, temporary=True)
        rb_sel = (
            old[ei] & (frail[ei] > 0.06) & (rng.random(ei.size) < params.REABLEMENT_AFTER_DISCHARGE)
        )
        rb = ei[rb_sel]
        rb_dis = dis[rb_sel]
        self.new_referral(a[rb])
        ref_min = minutes(rb.size, 9 * 60, 17 * 60)
        wait = np.where(
            rng.random(rb.size) < params.REABLEMENT_WITHIN_STANDARD,
            rng.integers(0, 3, rb.size),
            rng.integers(3, 6, rb.size),
        )
        first = rb_dis + wait
        self.contacts(
            a[rb],
            first,
            minutes(rb.size),
            TEAMS.index("reablement"),
            1,
            self.location_of(a[rb]),
            rng,
            rb_dis,
            ref_min,
        )
        more = rng.poisson(4.0, rb.size)
        w = np.repeat(rb, more)
        self.contacts(
            a[w],
            np.repeat(first, more) + rng.integers(1, 42, w.size),
            minutes(w.size),
            TEAMS.index("reablement"),
            2,
            self.location_of(a[w]),
            rng,
            np.repeat(rb_dis, more),
            np.repeat(ref_min, more),
        )
        srb_sel = rng.random(rb.size) < 0.3
        srb = rb[srb_sel]
        srb_start = rb_dis[srb_sel] + rng.integers(1, 4, srb.size)
        self.social(a[srb], 1, srb_start, srb_start + 42, np.round(rng.uniform(5, 14, srb.size)))

        # A&E attendances that did not lead to admission (falls often go to A&E).
        lam_ae = (
            params.AE_BASE
            + params.AE_FRAIL * frail
            + params.AE_YOUNG_ADULT * ((age >= 15) & (age < 35))
            + params.CRISIS_AE * crisis
        )
        ae = (rng.random(na) < _p(lam_ae, dt)) | (fall & ~em & (rng.random(na) < 0.35))
        ai = np.flatnonzero(ae & ~dies)
        ae_cause = np.where(fall[ai], 0, np.where(age[ai] < 50, 5, rng.integers(1, 5, ai.size)))
        self._ae(
            a[ai], np.where(fall[ai], fall_day[ai], days(ai.size)), ae_cause, ch[ai], False, rng
        )

        # Urgent community response within 2 hours of a fall, and therapy after it.
        ucr = fi[old[fi] & (rng.random(fi.size) < np.where(hb[fi], 0.5, params.UCR_AFTER_FALL))]
        self.new_referral(a[ucr])
        ref_min = minutes(ucr.size, 0, 22 * 60)
        delay = np.where(
            rng.random(ucr.size) < params.UCR_WITHIN_STANDARD,
            rng.integers(15, 120, ucr.size),
            rng.integers(121, 360, ucr.size),
        )
        cmin = ref_min + delay
        self.contacts(
            a[ucr],
            fall_day[ucr] + cmin // 1440,
            cmin % 1440,
            TEAMS.index("urgent_community_response"),
            0,
            self.location_of(a[ucr]),
            rng,
            fall_day[ucr],
            ref_min,
        )
        th = fi[old[fi] & (rng.random(fi.size) < params.THERAPY_AFTER_FALL)]
        self.new_referral(a[th])
        k = rng.integers(1, 5, th.size)
        w = np.repeat(th, k)
        th_min = minutes(th.size)
        self.contacts(
            a[w],
            np.repeat(fall_day[th], k) + rng.integers(3, 42, w.size),
            minutes(w.size),
            TEAMS.index("therapy"),
            2,
            self.location_of(a[w]),
            rng,
            np.repeat(fall_day[th], k),
            np.repeat(th_min, k),
        )

        # Elective and maternity spells.
        lam_el = np.where(
            age >= 50, params.ELECTIVE_OLDER + params.ELECTIVE_FRAIL * frail, params.ELECTIVE_BASE
        )
        el = (rng.random(na) < _p(lam_el, dt)) & ~em & ~dies & (self.in_hosp[a] < t0)
        li = np.flatnonzero(el)
        adm = days(li.size)
        los = np.where(rng.random(li.size) < 0.7, 0, rng.integers(1, 6, li.size))
        self._spells(a[li], adm, adm + los, 6, frail[li], age[li], ch[li], rng)
        female_fertile = (pp.sex[a] == 1) & (age >= 18) & (age < 45)
        mat = female_fertile & (rng.random(na) < _p(params.MATERNITY_RATE, dt)) & ~em & ~el & ~dies
        mi = np.flatnonzero(mat)
        adm = days(mi.size)
        self._spells(
            a[mi], adm, adm + rng.integers(0, 4, mi.size), 7, frail[mi], age[mi], ch[mi], rng
        )

        # New eFI deficits (tracking latent frailty with a lag) and their re-recording.
        target = params.DEFICITS_PER_FRAILTY * frail * pp.coding[a]
        lam_def = params.DEFICIT_BASE + params.DEFICIT_CATCH_UP * np.maximum(
            target - self.n_def[a], 0
        )
        nd = np.flatnonzero(rng.random(na) < _p(lam_def, dt))
        bits = _pick(self.deficit_cum, rng.random(nd.size))
        held = (self.defmask[a[nd]] >> bits.astype(np.uint64)) & np.uint64(1)
        new = held == 0
        nday = days(nd.size)
        self.gp(a[nd], nday, self.deficit_code(bits, rng))
        wn = a[nd[new]]
        self.defmask[wn] |= np.left_shift(np.uint64(1), bits[new].astype(np.uint64))
        self.n_def[wn] += 1
        self.start_meds(wn, bits[new], nday[new], rng)
        rc = rng.poisson(params.DEFICIT_RECODE * 3.0 * self.n_def[a] * dt)
        ri = np.repeat(np.arange(na), rc)
        rbits = _pick(self.deficit_cum, rng.random(ri.size))
        rheld = ((self.defmask[a[ri]] >> rbits.astype(np.uint64)) & np.uint64(1)) == 1
        ri, rbits = ri[rheld], rbits[rheld]
        self.gp(a[ri], days(ri.size), self.deficit_code(rbits, rng))

        # Routine GP entries (blood pressure, weight, reviews, ...): most of the journal.
        lam_r = (
            params.ROUTINE_BASE
            + params.ROUTINE_FRAIL * frail
            + params.ROUTINE_AGE * np.maximum(age - 40, 0)
        )
        rc = rng.poisson(lam_r * dt)
        ri = np.repeat(np.arange(na), rc)
        which = _pick(ref.routine_cum, rng.random(ri.size))
        self.gp(
            a[ri],
            days(ri.size),
            ref.routine_codes[which],
            self._routine_values(which, age[ri], frail[ri], rng),
        )
        # New repeat medicines as frailty rises (polypharmacy).
        nm = rng.poisson(params.NEW_MEDS_FRAIL * frail * dt)
        mi = np.repeat(np.arange(na), nm)
        pool = self.chronic_meds
        self.add_meds(a[mi], pool[rng.integers(0, pool.size, mi.size)], days(mi.size), rng, True)
        # Acute antibiotics.
        ab = rng.poisson(
            (params.ACUTE_ANTIBIOTIC_BASE + params.ACUTE_ANTIBIOTIC_FRAIL * frail) * dt
        )
        bi = np.repeat(np.arange(na), ab)
        acute = self.med_by_indication["acute"]
        self.add_meds(a[bi], acute[rng.integers(0, acute.size, bi.size)], days(bi.size), rng, False)

        # Numeric observations used by eFI value rules, and frailty assessments.
        self._observations(a, age, frail, hb, days, rng, dt)

        # Housebound, recovery, care home.
        lam_hb = housebound_rate(phi, age)
        nh = np.flatnonzero(
            ~hb & (age >= params.HOUSEBOUND_MIN_AGE) & (rng.random(na) < _p(lam_hb, dt)) & ~dies
        )
        nh_day = days(nh.size)
        self.gp(a[nh], nh_day, self.misc_code("housebound", nh.size, rng, skew=3.0))
        self._become_housebound(a[nh], nh_day, rng, temporary=False)
        rec_rates = [params.HOUSEBOUND_RECOVERY + 0.6 * t for t in (0.0, 1.0)]
        p_rec = _p_of(rec_rates, self.hb_temp[a].astype(np.int64), dt)
        recovers = hb & ~ch & (rng.random(na) < p_rec) & ~dies
        rc_ = np.flatnonzero(recovers)
        self.gp(a[rc_], days(rc_.size), self.misc_code("no_longer_housebound", rc_.size, rng))
        self.hb[a[rc_]] = False
        self.hb_temp[a[rc_]] = False
        lam_ch = params.CARE_HOME_BASE + params.CARE_HOME_FRAIL * frail
        nc = np.flatnonzero(hb & ~ch & (rng.random(na) < _p(lam_ch, dt)) & ~dies & ~recovers)
        self._enter_care_home(a[nc], days(nc.size), rng)
        hbr = np.flatnonzero(self.hb[a] & (rng.random(na) < _p(0.5, dt)))
        self.gp(a[hbr], days(hbr.size), np.full(hbr.size, ref.misc["housebound"][7]))

        # Community services for the housebound and frail; palliative care near the end.
        dn = rng.poisson(
            np.where(self.hb[a], params.DISTRICT_NURSING_HOUSEBOUND * (0.3 + frail), 0.0)
            * (1.0 + params.CRISIS_CONTACTS * crisis)
            * dt
        )
        w = np.repeat(np.arange(na), dn)
        self.contacts(
            a[w],
            days(w.size),
            minutes(w.size),
            TEAMS.index("district_nursing"),
            2,
            self.location_of(a[w]),
            rng,
        )
        cm = rng.poisson(
            np.where((frail > 0.3) | crisis, params.COMMUNITY_MATRON_FRAIL, 0.0)
            * (1.0 + params.CRISIS_CONTACTS * crisis)
            * dt
        )
        w = np.repeat(np.arange(na), cm)
        self.contacts(
            a[w],
            days(w.size),
            minutes(w.size),
            TEAMS.index("community_matron"),
            2,
            self.location_of(a[w]),
            rng,
        )
        pall = (lam_death > 0.6) | (dies & (rng.random(na) < 0.3))
        newp = np.flatnonzero(pall & ~self.palliative[a])
        self.palliative[a[newp]] = True
        self.gp(a[newp], days(newp.size), np.full(newp.size, ref.misc["palliative_care"][0]))
        dnr = newp[rng.random(newp.size) < 0.6]
        self.gp(a[dnr], days(dnr.size), np.full(dnr.size, ref.misc["dnacpr"][0]))
        pc = rng.poisson(np.where(self.palliative[a], params.PALLIATIVE_CONTACTS, 0.0) * dt)
        w = np.repeat(np.arange(na), pc)
        self.contacts(
            a[w],
            days(w.size),
            minutes(w.size),
            TEAMS.index("palliative_care"),
            2,
            self.location_of(a[w]),
            rng,
        )
        ot = rng.poisson(np.full(na, 0.04) * dt)
        w = np.repeat(np.arange(na), ot)
        self.contacts(
            a[w],
            days(w.size),
            minutes(w.size),
            TEAMS.index("other"),
            2,
            np.full(w.size, LOCATIONS.index("clinic")),
            rng,
        )

        # Latent state moves on.
        self.death[a[di]] = death_day[di]
        jump = params.PHI_JUMP_FALL * fall
        self.phi[a] += (
            dt * (params.PHI_DRIFT + params.PHI_DRIFT_FRAIL * frail)
            + np.sqrt(dt) * params.PHI_DIFFUSION * rng.normal(0.0, 1.0, na)
            + jump
        )
        onset = rng.random(na) < _p(params.CRISIS_BASE + params.CRISIS_FRAIL * frail, dt)
        ends = rng.random(na) < _p(1.0 / params.CRISIS_MEAN_YEARS, dt)
        ends |= em & (rng.random(na) < params.CRISIS_ENDS_AT_ADMISSION)
        self.crisis[a] = np.where(crisis, ~ends, onset)
        decay = np.exp(-dt / 0.5)
        self.recent_adm[a] *= decay
        self.recent_fall[a] = self.recent_fall[a] * decay + fall
        return truth

    # ---- sub-processes -----------------------------------------------------------------
    def _become_housebound(self, who, day, rng, temporary: bool) -> None:
        self.hb[who] = True
        self.hb_temp[who] = temporary
        if temporary:
            return
        hc = rng.random(who.size) < params.HOME_CARE_AT_HOUSEBOUND
        start = day[hc] + rng.integers(0, 60, int(hc.sum()))
        self.social(
            who[hc],
            0,
            start,
            start + (rng.exponential(2.0, start.size) * YEAR).astype(np.int64),
            np.round(rng.uniform(3, 21, start.size) * 2) / 2,
        )
        eq = rng.random(who.size) < params.EQUIPMENT_AT_HOUSEBOUND
        start = day[eq] + rng.integers(0, 90, int(eq.sum()))
        self.social(
            who[eq],
            4,
            start,
            start + (rng.exponential(3.0, start.size) * YEAR).astype(np.int64),
            np.full(start.size, np.nan),
        )
        cl = rng.random(who.size) < params.CASELOAD_AT_HOUSEBOUND
        start = day[cl] + rng.integers(7, 120, int(cl.sum()))
        end = start + (rng.exponential(1.0 / params.CASELOAD_END_RATE, start.size) * YEAR).astype(
            np.int64
        )
        self.t["caseload"].add(
            pidx=who[cl],
            team=rng.integers(0, len(CASELOAD_TEAMS), start.size),
            start=start,
            end=end,
        )

    def _enter_care_home(self, who, day, rng) -> None:
        if who.size == 0:
            return
        self.gp(who, day, self.misc_code("care_home_residence", who.size, rng, skew=1.5))
        self.ch[who] = True
        self.hb[who] = True
        self.hb_temp[who] = False
        nursing = rng.random(who.size) < 0.45
        sc = rng.random(who.size) < 0.7
        res = sc & ~nursing
        nur = sc & nursing
        self.social(
            who[res], 2, day[res], np.full(int(res.sum()), NEVER), np.full(int(res.sum()), np.nan)
        )
        self.social(
            who[nur], 3, day[nur], np.full(int(nur.sum()), NEVER), np.full(int(nur.sum()), np.nan)
        )

    def _routine_values(self, which, age, frail, rng) -> np.ndarray:
        kinds = self.routine_kind[which]
        n = which.size
        v = np.full(n, np.nan)
        draws = {
            "systolic_bp": np.rint(118 + 0.45 * np.maximum(age - 30, 0) + rng.normal(0, 14, n)),
            "diastolic_bp": np.rint(77 + rng.normal(0, 9, n)),
            "weight_kg": np.round(np.clip(72 + rng.normal(0, 15, n) - 15 * frail, 35, 180), 1),
            "bmi": np.round(np.clip(27 + rng.normal(0, 5, n) - 4 * frail, 14, 60), 1),
            "height_cm": np.round(np.clip(rng.normal(169, 9, n), 140, 205), 0),
            "creatinine": np.rint(np.clip(78 + 70 * frail + rng.normal(0, 15, n), 30, 600)),
            "cholesterol": np.round(np.clip(rng.normal(5.0, 1.0, n), 2.0, 10.0), 1),
        }
        for kind, values in draws.items():
            sel = kinds == ROUTINE_VALUE_KINDS.index(kind)
            v[sel] = values[sel]
        v[(kinds >= 0) & (age < 16)] = np.nan
        return v

    def _observations(self, a, age, frail, hb, days, rng, dt) -> None:
        ref = self.ref
        na = a.size
        mask = self.defmask[a]

        def has(slug: str) -> np.ndarray:
            return ((mask >> np.uint64(self.slug_bit[slug])) & np.uint64(1)) == 1

        ckd, anaemia, diabetes = has("ckd"), has("anaemia"), has("diabetes")
        # rate: 0 under 50 without CKD, else 0.5 + 1.0 * ckd + 0.5 * diabetes
        rates = [0.0] + [0.5 + 1.0 * c + 0.5 * d for d in (0, 1) for c in (0, 1)]
        which = np.where((age >= 50) | ckd, 1 + ckd + 2 * diabetes, 0)
        i = np.flatnonzero(rng.random(na) < _p_of(rates, which, dt))
        egfr = 102 - 0.8 * np.maximum(age[i] - 30, 0) - 35 * frail[i] + rng.normal(0, 8, i.size)
        egfr = np.where(ckd[i], np.minimum(egfr, rng.normal(48, 9, i.size)), egfr)
        self.gp(
            a[i], days(i.size), np.full(i.size, ref.obs["egfr"]), np.rint(np.clip(egfr, 5, 130))
        )
        rates = [0.05, 0.4 + 0.8 * 0.0, 0.4 + 0.8 * 1.0]  # under 40; 40+ (anaemia or not)
        i = np.flatnonzero(rng.random(na) < _p_of(rates, np.where(age >= 40, 1 + anaemia, 0), dt))
        male = self.pp.sex[a[i]] == 0
        hb_v = np.where(male, 146, 133) - 25 * frail[i] - 22 * anaemia[i] + rng.normal(0, 9, i.size)
        hb_v = np.rint(np.clip(hb_v, 50, 190))
        gdl = rng.random(i.size) < 0.03
        hb_v = np.where(gdl, np.round(hb_v / 10, 1), hb_v)
        self.gp(a[i], days(i.size), np.full(i.size, ref.obs["haemoglobin"]), hb_v)
        which = np.where(hb, 2, (frail > 0.2).astype(np.int64))  # rate 0.8 / 0.3 / 0.0
        i = np.flatnonzero(rng.random(na) < _p_of([0.0, 0.3, 0.8], which, dt))
        barthel = np.clip(np.rint(20 - 30 * (frail[i] - 0.1) + rng.normal(0, 2, i.size)), 0, 20)
        self.gp(a[i], days(i.size), np.full(i.size, ref.obs["barthel_index"]), barthel)
        # rate: 0 under 65, else 0.1 + 0.8 * housebound + 0.5 * (frail > 0.25)
        rates = [0.0] + [0.1 + 0.8 * h + 0.5 * f for f in (0, 1) for h in (0, 1)]
        which = np.where(age >= 65, 1 + hb + 2 * (frail > 0.25), 0)
        i = np.flatnonzero(rng.random(na) < _p_of(rates, which, dt))
        cfs = np.clip(np.rint(1.8 + 14 * frail[i] + rng.normal(0, 0.8, i.size)), 1, 9)
        self.gp(a[i], days(i.size), np.full(i.size, ref.obs["clinical_frailty_scale"]), cfs)
        rate = np.where(age >= 65, 0.3, 0.0)
        i = np.flatnonzero(rng.random(na) < _p(rate, dt))
        efi = (self.n_def[a[i]] + hb[i]) / 36
        cat = np.where(efi > 0.36, 2, np.where(efi > 0.24, 1, np.where(efi > 0.12, 0, -1)))
        ok = cat >= 0
        self.gp(a[i[ok]], days(int(ok.sum())), ref.misc["frailty_category"][cat[ok]])
        cog = has("cognitive-problems")
        i = np.flatnonzero(cog & (rng.random(na) < _p(0.4, dt)))
        self.gp(
            a[i],
            days(i.size),
            np.full(i.size, ref.obs["six_cit"]),
            np.clip(np.rint(rng.normal(12, 5, i.size)), 0, 28),
        )

    def _ae(self, who, day, cause, ch, admitted: bool, rng) -> None:
        n = who.size
        if n == 0:
            return
        seq = self.ae_seq[who].copy()
        np.add.at(self.ae_seq, who, 1)
        complaint = np.empty(n, dtype=object)
        for c in np.unique(cause):
            codes, cum = self.ref.ae_codes[
                CAUSES[c] if CAUSES[c] in self.ref.ae_codes else "general"
            ]
            sel = cause == c
            complaint[sel] = codes[_pick(cum, rng.random(int(sel.sum())))]
        nursing = rng.random(n) < 0.45
        accom = np.where(ch, np.where(nursing, "160734000", "394923006"), "")
        dept = _pick(np.cumsum([0.7, 0.04, 0.22, 0.04]), rng.random(n))
        if admitted:
            dept[:] = 0
        minute = (rng.beta(2.2, 1.8, n) * 1440).astype(np.int64)
        self.t["ae"].add(
            pidx=who,
            day=day,
            minute=minute,
            dept=dept,
            planned=(rng.random(n) < 0.03) & (not admitted),
            complaint=complaint.astype(str),
            accom=accom,
            admitted=np.full(n, admitted),
            seq=seq,
        )

    def _spells(self, who, adm, dis, cause, frail, age, ch, rng) -> np.ndarray:
        """Record spells; return the discharge destination index of each."""
        ref = self.ref
        m = who.size
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        died = isinstance(cause, str)
        if died:
            cause = np.where(
                rng.random(m) < 0.5, 1, _pick(np.cumsum([0.2, 0.3, 0.2, 0.3]), rng.random(m)) + 1
            )
        cause = np.broadcast_to(np.asarray(cause), (m,)).astype(np.int64)
        diag = np.full((m, 48), -1, dtype=np.int64)
        for c in np.unique(cause):
            codes, cum = ref.diag_by_cause[CAUSES[c]]
            sel = cause == c
            diag[sel, 0] = codes[_pick(cum, rng.random(int(sel.sum())))]
        held = (
            (self.defmask[who][:, None] >> np.arange(36, dtype=np.uint64)[None, :]) & np.uint64(1)
        ) == 1
        keep = held & (ref.deficit_diag[None, :] >= 0) & (rng.random((m, 36)) < 0.6)
        diag[:, 1:37] = np.where(keep, ref.deficit_diag[None, :], -1)
        n_hfrs = np.minimum(rng.poisson(0.2 + 5.0 * frail * (age > 50)), 11)
        u = np.where(
            rng.random((m, 11)) < params.HFRS_PERSONAL_SHARE,
            personal_uniforms(self.pp.pid[who], 11),
            rng.random((m, 11)),
        )
        picks = ref.hfrs_diag[_pick(ref.hfrs_cum, u)]
        diag[:, 37:48] = np.where(np.arange(11)[None, :] < n_hfrs[:, None], picks, -1)
        fall_cause = cause == 0
        diag[fall_cause, 47] = ref.diag_by_cause["fall"][0][-1]  # W19 external cause
        order = np.argsort(diag[:, 1:] < 0, axis=1, kind="stable")
        rest = np.take_along_axis(diag[:, 1:], order, axis=1)[:, : N_DIAG - 1]
        diag = np.concatenate([diag[:, :1], rest], axis=1)
        style = _pick(
            np.cumsum(
                [
                    1
                    - params.ICD10_DOT
                    - params.ICD10_DAGGER_ASTERISK
                    - params.ICD10_TRAILING_DASH
                    - params.ICD10_PADDING
                    - params.ICD10_FIFTH_CHARACTER,
                    params.ICD10_DOT,
                    params.ICD10_DAGGER_ASTERISK,
                    params.ICD10_TRAILING_DASH,
                    params.ICD10_PADDING,
                    params.ICD10_FIFTH_CHARACTER,
                ]
            ),
            rng.random((m, N_DIAG)),
        )
        if died:
            method = _pick(EMERGENCY_METHOD_CUM, rng.random(m))
            dest = np.full(m, DESTINATIONS.index("79"))
        elif cause[0] == 6:
            method = len(EMERGENCY_METHODS) + _pick(np.cumsum([0.6, 0.3, 0.1]), rng.random(m))
            dest = np.where(ch, 3, 0)
        elif cause[0] == 7:
            method = len(EMERGENCY_METHODS) + 3 + (rng.random(m) < 0.3)
            dest = np.zeros(m, dtype=np.int64)
        else:
            method = _pick(EMERGENCY_METHOD_CUM, rng.random(m))
            to_ch = (
                ~ch
                & (frail > 0.3)
                & (age >= 70)
                & (rng.random(m) < params.CARE_HOME_AFTER_DISCHARGE)
            )
            ch_dest = 3 + rng.integers(0, 3, m)
            dest = np.where(
                ch | to_ch, ch_dest, _pick(np.cumsum([0.95, 0.03, 0.02]), rng.random(m))
            )
        seq = self.spell_seq[who].copy()
        np.add.at(self.spell_seq, who, 1)
        self.t["spells"].add(pidx=who, adm=adm, dis=dis, method=method, dest=dest, seq=seq)
        self.t.setdefault("diag", Table()).add(diag=diag, style=style)
        via_ae = (method < len(EMERGENCY_METHODS)) & np.isin(
            np.asarray(method), (EMERGENCY_METHODS.index("21"), EMERGENCY_METHODS.index("2A"))
        )
        w = np.flatnonzero(via_ae)
        self._ae(who[w], adm[w], cause[w], ch[w], True, rng)
        return dest


def simulate_chunk(
    people: People, ref: Reference, seed: int, chunk: int, extract_day: int
) -> ChunkEvents:
    """Run the latent process for one chunk from SIM_START to 365 days after `extract_day`."""
    sim = _Sim(people, ref, seed, chunk)
    sim.init()
    start = params.day_number(params.SIM_START)
    end = extract_day + params.FOLLOW_UP_DAYS
    n_steps = (end - start) // params.STEP_DAYS + 1
    truth = None
    for s in range(n_steps):
        t0 = start + s * params.STEP_DAYS
        is_truth_step = t0 <= extract_day < t0 + params.STEP_DAYS
        out = sim.step(s, t0, extract_day if is_truth_step else None)
        if is_truth_step:
            truth = out
    events = ChunkEvents(people=people, death_day=sim.death)
    events.tables = {k: t.concat() for k, t in sim.t.items() if t._parts}
    if truth is not None:
        events.truth_pidx, events.truth_risk = truth
    return events
