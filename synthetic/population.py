"""The synthetic ICS's geography (practices, PCNs, neighbourhoods, LSOAs) and its people."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from synthetic import params
from synthetic.reference import Reference

log = logging.getLogger(__name__)

NHS_TEST_PREFIX = 999  # 999 000 0000 - 999 999 9999: reserved for test data, never issued


@dataclass(frozen=True)
class Geography:
    """Practices (with PCN and neighbourhood) and LSOAs (with IMD decile and neighbourhood)."""

    practice_code: np.ndarray
    practice_name: np.ndarray
    practice_pcn: np.ndarray  # index into pcn_*
    practice_neighbourhood: np.ndarray  # index into neighbourhood_*
    practice_weight: np.ndarray  # cumulative share of the population
    pcn_code: np.ndarray
    pcn_name: np.ndarray
    neighbourhood_code: np.ndarray
    neighbourhood_name: np.ndarray
    lsoa_code: np.ndarray
    lsoa_imd: np.ndarray
    lsoa_neighbourhood: np.ndarray


def build_geography(n_persons: int, rng: np.random.Generator, ref: Reference) -> Geography:
    """Practices scale with list size (~8,000 each), at least 12 in at least 6 neighbourhoods."""
    n_practices = max(params.MIN_PRACTICES, round(n_persons / params.PATIENTS_PER_PRACTICE))
    n_pcns = max(params.MIN_NEIGHBOURHOODS, math.ceil(n_practices / 3))
    n_neigh = max(params.MIN_NEIGHBOURHOODS, math.ceil(n_pcns / 2))
    places = list(ref.places)
    order = rng.permutation(len(places))

    def place(i: int) -> str:
        name = places[order[i % len(places)]]
        return name if i < len(places) else f"{name} {i // len(places) + 1}"

    neighbourhood_code = np.array([f"NB{i + 1:02d}" for i in range(n_neigh)])
    neighbourhood_name = np.array([f"{place(i)} Neighbourhood" for i in range(n_neigh)])
    pcn_neigh = np.arange(n_pcns) % n_neigh
    pcn_code = np.array([f"U{10001 + 37 * i:05d}" for i in range(n_pcns)])
    pcn_name = np.array([f"{place(n_neigh + i)} PCN" for i in range(n_pcns)])
    practice_pcn = np.arange(n_practices) % n_pcns
    letters = "ABCDEFGHJKLMNPY"
    practice_code = np.array(
        [f"{letters[i % len(letters)]}{81001 + i // len(letters):05d}" for i in range(n_practices)]
    )
    kinds = ("Medical Practice", "Surgery", "Health Centre", "Medical Centre", "Family Practice")
    practice_name = np.array(
        [f"{place(n_neigh + n_pcns + i)} {kinds[i % len(kinds)]}" for i in range(n_practices)]
    )
    sizes = rng.lognormal(0.0, 0.45, n_practices)
    n_lsoa = max(4 * n_neigh, math.ceil(n_persons / params.PATIENTS_PER_LSOA))
    lsoa_neigh = np.arange(n_lsoa) % n_neigh
    neigh_deprivation = rng.uniform(2.0, 9.0, n_neigh)
    imd = np.clip(np.rint(neigh_deprivation[lsoa_neigh] + rng.normal(0, 2.0, n_lsoa)), 1, 10)
    lsoa_numbers = np.sort(rng.choice(np.arange(1, 35_000), n_lsoa, replace=False))
    return Geography(
        practice_code=practice_code,
        practice_name=practice_name,
        practice_pcn=practice_pcn,
        practice_neighbourhood=pcn_neigh[practice_pcn],
        practice_weight=np.cumsum(sizes) / sizes.sum(),
        pcn_code=pcn_code,
        pcn_name=pcn_name,
        neighbourhood_code=neighbourhood_code,
        neighbourhood_name=neighbourhood_name,
        lsoa_code=np.array([f"E01{n:06d}" for n in lsoa_numbers]),
        lsoa_imd=imd.astype(np.int64),
        lsoa_neighbourhood=lsoa_neigh,
    )


def check_digits(first_nine: np.ndarray) -> np.ndarray:
    """Modulus 11 check digit of nine-digit integers; 10 where none exists."""
    total = np.zeros(first_nine.shape, dtype=np.int64)
    rest = first_nine.astype(np.int64)
    for weight in range(2, 11):  # last digit has weight 2
        total += (rest % 10) * weight
        rest //= 10
    check = 11 - total % 11
    return np.where(check == 11, 0, check)


def nhs_numbers(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` distinct valid NHS numbers (int64), sorted, from the 999 test range.

    The 999 range holds only 909,091 valid numbers. Beyond that the 998, 997, ... ranges
    (not issued in England, Wales or the Isle of Man today) are used, with a warning.
    """
    pools = []
    available = 0
    prefix = NHS_TEST_PREFIX
    while available < n:
        first_nine = np.arange(prefix * 1_000_000, (prefix + 1) * 1_000_000, dtype=np.int64)
        check = check_digits(first_nine)
        ok = check < 10
        pool = first_nine[ok] * 10 + check[ok]
        pool = pool[pool % 1_111_111_111 != 0]  # not ten identical digits
        pools.append(pool)
        available += pool.size
        prefix -= 1
    if len(pools) > 1:
        log.warning(
            "%d patients exceed the 909,091 valid numbers of the 999 test range: "
            "numbers from the %d-%d ranges are used too",
            n,
            prefix + 1,
            NHS_TEST_PREFIX - 1,
        )
    pool = np.concatenate(pools)
    return np.sort(rng.choice(pool, n, replace=False))


@dataclass
class People:
    """Static attributes of one chunk of persons (arrays of equal length)."""

    pid: np.ndarray  # global person index
    nhs: np.ndarray  # int64
    sex: np.ndarray  # index into params.SEX_CODES
    dob: np.ndarray  # day number
    reg_start: np.ndarray  # day number
    leave: np.ndarray  # day number registration would end by moving away
    practice: np.ndarray
    lsoa: np.ndarray
    imd: np.ndarray
    ethnic: np.ndarray
    given: np.ndarray  # str
    family: np.ndarray  # str
    hidden: np.ndarray  # unobservable personal risk
    phi0: np.ndarray  # latent frailty at entry
    coding: np.ndarray  # how thoroughly the person's problems get coded (multiplies deficits)
    entry: np.ndarray  # day the simulation starts for this person: max(SIM_START, reg_start)

    def __len__(self) -> int:
        return int(self.pid.size)


def _ages_from_pyramid(rng: np.random.Generator, n: int, young_adult_boost: bool) -> np.ndarray:
    shares = np.array(params.AGE_BAND_SHARES, dtype=float)
    if young_adult_boost:
        shares[4:8] *= 2.5
        shares[13:] *= 0.3
    band = rng.choice(shares.size, n, p=shares / shares.sum())
    width = np.where(band == shares.size - 1, 12.0, 5.0)
    offset = rng.random(n)
    offset = np.where(band == shares.size - 1, offset**2, offset)  # 90+ thins out
    return band * 5.0 + offset * width


def make_people(
    start: int,
    n: int,
    numbers: np.ndarray,
    geo: Geography,
    rng: np.random.Generator,
    ref: Reference,
) -> People:
    """Draw the static attributes of persons `start` .. `start + n - 1` (NHS numbers given)."""
    sim_start = params.day_number(params.SIM_START)
    arrivals_end = params.day_number(params.ARRIVALS_END)
    year = 365.25
    is_arrival = rng.random(n) < params.ARRIVAL_SHARE
    is_newborn = is_arrival & (rng.random(n) < params.NEWBORN_SHARE_OF_ARRIVALS)
    arrival_day = rng.integers(sim_start + 1, arrivals_end, n)
    age_baseline = _ages_from_pyramid(rng, n, young_adult_boost=False)
    age_mover = _ages_from_pyramid(rng, n, young_adult_boost=True)
    age_at_entry = np.where(is_arrival, np.where(is_newborn, 0.0, age_mover), age_baseline)
    entry = np.where(is_arrival, arrival_day, sim_start)
    dob = entry - np.floor(age_at_entry * year).astype(np.int64)
    dob = np.where(is_newborn, arrival_day - rng.integers(7, 60, n), dob)
    years_registered = np.minimum(rng.exponential(10.0, n), age_at_entry)
    reg_start = np.where(is_arrival, entry, sim_start - np.floor(years_registered * year))
    reg_start = np.maximum(reg_start, dob).astype(np.int64)
    leave_rate = np.where(
        age_at_entry >= 65,
        params.LEAVE_RATE_OLD,
        np.where(
            (age_at_entry >= 18) & (age_at_entry < 40),
            params.LEAVE_RATE_YOUNG_ADULT,
            params.LEAVE_RATE_OTHER,
        ),
    )
    leave = entry + np.floor(rng.exponential(1.0 / leave_rate) * year).astype(np.int64) + 1
    sex = rng.choice(
        len(params.SEX_CODES), n, p=np.array(params.SEX_SHARES) / sum(params.SEX_SHARES)
    )
    practice = np.searchsorted(geo.practice_weight, rng.random(n) * geo.practice_weight[-1])
    practice = np.minimum(practice, geo.practice_code.size - 1)
    neigh = geo.practice_neighbourhood[practice]
    lsoa = np.empty(n, dtype=np.int64)
    u = rng.random(n)
    for k in range(geo.neighbourhood_code.size):
        members = np.flatnonzero(geo.lsoa_neighbourhood == k)
        sel = neigh == k
        lsoa[sel] = members[np.minimum((u[sel] * members.size).astype(np.int64), members.size - 1)]
    imd = geo.lsoa_imd[lsoa]
    p_young = np.array(params.ETHNIC_SHARES_UNDER_65)
    p_old = np.array(params.ETHNIC_SHARES_65_PLUS)
    eth_young = rng.choice(p_young.size, n, p=p_young / p_young.sum())
    eth_old = rng.choice(p_old.size, n, p=p_old / p_old.sum())
    ethnic = np.where(age_at_entry >= 65, eth_old, eth_young)
    birth_year = 1970 + dob / year
    era = np.where(birth_year < 1955, 0, np.where(birth_year < 1985, 1, 2))
    female = (sex == 1) | ((sex >= 2) & (rng.random(n) < 0.5))
    given = np.empty(n, dtype=object)
    ug = rng.random(n)
    for e in range(3):
        for is_f, lists in ((True, ref.given_female), (False, ref.given_male)):
            sel = (era == e) & (female == is_f)
            names = lists[e]
            given[sel] = names[
                np.minimum((ug[sel] ** 1.4 * names.size).astype(np.int64), names.size - 1)
            ]
    family = ref.family[
        np.minimum((rng.random(n) ** 1.6 * ref.family.size).astype(np.int64), ref.family.size - 1)
    ]
    hidden = rng.normal(0.0, params.HIDDEN_RISK_SD, n)
    phi0 = (
        params.PHI_INTERCEPT
        + params.PHI_AGE_SLOPE * (age_at_entry - 50.0)
        + params.PHI_NOISE * rng.normal(0.0, 1.0, n)
        + params.PHI_DEPRIVATION * (5.5 - imd)
    )
    coding = np.minimum(np.exp(params.CODING_SD * rng.normal(0.0, 1.0, n)), params.CODING_MAX)
    return People(
        pid=np.arange(start, start + n, dtype=np.int64),
        nhs=np.asarray(numbers, dtype=np.int64),
        sex=sex,
        dob=dob.astype(np.int64),
        reg_start=reg_start,
        leave=leave,
        practice=practice,
        lsoa=lsoa,
        imd=imd,
        ethnic=ethnic,
        given=given.astype(str),
        family=family,
        hidden=hidden,
        phi0=phi0,
        coding=coding,
        entry=entry.astype(np.int64),
    )
