"""The couriers the sandbox knows: identity, home country, lanes, local clock and number format.

Each courier writes checkpoint dates in its own local time without a zone, some with seconds
and some without, exactly the inconsistency a real TrackingMore account shows.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from .randomness import pick

# Hours east of UTC for the clock a courier writes checkpoint dates in. Fixed offsets (no DST)
# keep the simulation deterministic; the pipeline must not assume any zone anyway.
COUNTRY_UTC_OFFSET_H: dict[str, int] = {
    "United States": -5,
    "Canada": -5,
    "Mexico": -6,
    "Puerto Rico": -4,
    "Brazil": -3,
    "United Kingdom": 0,
    "Ireland": 0,
    "Germany": 1,
    "France": 1,
    "Netherlands": 1,
    "Spain": 1,
    "China": 8,
    "Australia": 10,
}

# Places written in checkpoint `Details`; accents and CJK on purpose.
COUNTRY_CITIES: dict[str, tuple[str, ...]] = {
    "United States": ("LOS ANGELES, CA", "NEW YORK, NY", "CHICAGO, IL", "LOUISVILLE, KY", "MEMPHIS, TN"),
    "Canada": ("Montréal, QC", "Toronto, ON", "Québec, QC", "Vancouver, BC"),
    "Mexico": ("Ciudad de México", "Querétaro", "Monterrey"),
    "Puerto Rico": ("San Juan", "Bayamón"),
    "Brazil": ("São Paulo - SP", "Curitiba - PR", "Brasília - DF"),
    "United Kingdom": ("Heathrow Worldwide DC", "London Central", "Manchester MC", "Edinburgh"),
    "Ireland": ("Dublin", "Athlone"),
    "Germany": ("Köln", "Leipzig Hub", "München", "Düsseldorf"),
    "France": ("Roissy-Charles-de-Gaulle", "Orléans", "Besançon"),
    "Netherlands": ("Amsterdam", "Den Haag"),
    "Spain": ("Málaga", "Madrid", "A Coruña"),
    "China": ("深圳市", "广州市", "上海市", "义乌市", "北京市"),
    "Australia": ("Sydney NSW", "Melbourne VIC"),
}


@dataclass(frozen=True)
class Courier:
    """One carrier as `/v2/carriers` lists it, plus what the generator needs to imitate it."""

    code: str
    name: str
    courier_type: str
    phone: str
    homepage: str
    name_cn: str
    home_country: str
    destinations: tuple[tuple[str, int], ...]
    postal: bool
    date_has_seconds: bool
    chinese_text: bool

    @property
    def refresh_period_s(self) -> int:
        """TrackingMore refreshes express couriers about every 3 h and postal ones every 6 h."""
        return 6 * 3600 if self.postal else 3 * 3600


COURIERS: tuple[Courier, ...] = (
    Courier(
        "ups",
        "UPS",
        "express",
        "+1 800 742 5877",
        "https://www.ups.com",
        "UPS",
        "United States",
        (("United States", 85), ("Canada", 8), ("Mexico", 4), ("United Kingdom", 3)),
        postal=False,
        date_has_seconds=False,
        chinese_text=False,
    ),
    Courier(
        "usps",
        "USPS",
        "globalpost",
        "+1 800 275 8777",
        "https://www.usps.com",
        "美国邮政",
        "United States",
        (("United States", 95), ("Canada", 3), ("Puerto Rico", 2)),
        postal=True,
        date_has_seconds=False,
        chinese_text=False,
    ),
    Courier(
        "fedex",
        "Fedex",
        "express",
        "+1 800 463 3339",
        "https://www.fedex.com",
        "联邦快递",
        "United States",
        (("United States", 80), ("Canada", 10), ("Mexico", 5), ("Germany", 5)),
        postal=False,
        date_has_seconds=True,
        chinese_text=False,
    ),
    Courier(
        "dhl",
        "DHL",
        "express",
        "+49 228 4333112",
        "https://www.dhl.com",
        "DHL",
        "Germany",
        (
            ("Germany", 40),
            ("France", 15),
            ("Netherlands", 10),
            ("United States", 15),
            ("United Kingdom", 10),
            ("Spain", 10),
        ),
        postal=False,
        date_has_seconds=True,
        chinese_text=False,
    ),
    Courier(
        "china-post",
        "China Post",
        "globalpost",
        "+86 11183",
        "http://yjcx.chinapost.com.cn",
        "中国邮政",
        "China",
        (
            ("United States", 35),
            ("United Kingdom", 12),
            ("Germany", 12),
            ("France", 10),
            ("Brazil", 8),
            ("Canada", 8),
            ("Australia", 8),
            ("Spain", 7),
        ),
        postal=True,
        date_has_seconds=True,
        chinese_text=True,
    ),
    Courier(
        "china-ems",
        "China EMS",
        "globalpost",
        "+86 11183",
        "http://www.ems.com.cn",
        "中国EMS",
        "China",
        (("United States", 40), ("United Kingdom", 15), ("Germany", 15), ("Australia", 15), ("Canada", 15)),
        postal=True,
        date_has_seconds=True,
        chinese_text=True,
    ),
    Courier(
        "royal-mail",
        "Royal Mail",
        "globalpost",
        "+44 3457 740 740",
        "https://www.royalmail.com",
        "英国皇家邮政",
        "United Kingdom",
        (("United Kingdom", 80), ("Ireland", 10), ("France", 10)),
        postal=True,
        date_has_seconds=False,
        chinese_text=False,
    ),
    Courier(
        "4px",
        "4PX",
        "express",
        "+86 400 888 4000",
        "http://express.4px.com",
        "递四方",
        "China",
        (("United States", 40), ("United Kingdom", 20), ("Germany", 15), ("France", 10), ("Australia", 15)),
        postal=False,
        date_has_seconds=True,
        chinese_text=False,
    ),
)

COURIERS_BY_CODE: dict[str, Courier] = {courier.code: courier for courier in COURIERS}

# Courier that carries the destination leg of a cross-border postal item.
DESTINATION_POSTAL_CARRIER: dict[str, str] = {
    "United States": "usps",
    "United Kingdom": "royal-mail",
    "Germany": "deutsche-post",
    "France": "colissimo",
    "Brazil": "brazil-correios",
    "Canada": "canada-post",
    "Australia": "australia-post",
    "Spain": "correos-spain",
    "Ireland": "an-post",
}

COURIER_WEIGHTS: tuple[int, ...] = (18, 14, 12, 10, 20, 6, 8, 12)

_ALNUM = string.ascii_uppercase + string.digits
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10_check_digit(serial: str) -> int:
    """UPU S10 check digit of an 8-digit serial (weights 8,6,4,2,3,5,9,7; mod 11)."""
    check = 11 - sum(int(d) * w for d, w in zip(serial, _S10_WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(check, check)


def _digits(rng: random.Random, count: int) -> str:
    return str(rng.randrange(10**count)).zfill(count)


def _s10(rng: random.Random, prefix: str, country_iso: str) -> str:
    serial = _digits(rng, 8)
    return f"{prefix}{serial}{s10_check_digit(serial)}{country_iso}"


def make_tracking_number(courier_code: str, rng: random.Random) -> str:
    """A tracking number in the format the courier really uses (and `detect` recognises)."""
    if courier_code == "ups":
        account = "".join(pick(rng, _ALNUM) for _ in range(6))
        return f"1Z{account}{pick(rng, ('01', '02', '03', '42'))}{_digits(rng, 8)}"
    if courier_code == "usps":
        return pick(rng, ("9400", "9205", "9361", "9300")) + _digits(rng, 18)
    if courier_code == "fedex":
        return _digits(rng, pick(rng, (12, 12, 12, 15)))
    if courier_code == "dhl":
        return _digits(rng, 10)
    if courier_code == "china-post":
        prefix = pick(rng, ("LK", "RR", "UA", "LP", "RB"))
        return _s10(rng, prefix, "CN")
    if courier_code == "china-ems":
        return _s10(rng, "E" + pick(rng, string.ascii_uppercase), "CN")
    if courier_code == "royal-mail":
        return _s10(rng, pick(rng, ("RR", "LX", "AB", "FA")), "GB")
    if courier_code == "4px":
        return "4PX" + _digits(rng, 13) + "CN"
    raise KeyError(courier_code)
