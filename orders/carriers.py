"""What we know of each carrier beyond its stored code and Chinese name (orders.models.Carrier).

English names: the API's `shipment.carrier` has always been the English name (docs/api.md), so it
stays that; `carrier_name` gives the Chinese one beside it. Tracking number formats: the numbers
each carrier prints on its waybills, loose enough for the older and newer series we know of (a
prefix some carriers print may be typed or left off), strict enough to catch a number pasted into
the wrong column or typed for another carrier.
"""

import re
from dataclasses import dataclass

from orders.models import Carrier


@dataclass(frozen=True)
class CarrierFacts:
    english_name: str
    tracking_pattern: re.Pattern
    # What staff write for this carrier in a sheet, besides its code, Chinese and English names.
    aliases: tuple[str, ...] = ()


CARRIER_FACTS: dict[str, CarrierFacts] = {
    Carrier.SF_EXPRESS: CarrierFacts("SF Express", re.compile(r"(SF)?[0-9]{10,15}"), ("顺丰", "SF")),
    Carrier.ZTO: CarrierFacts("ZTO Express", re.compile(r"[0-9]{10,15}"), ("中通", "ZTO")),
    Carrier.YTO: CarrierFacts("YTO Express", re.compile(r"(YT)?[0-9]{10,18}"), ("圆通", "YTO")),
    Carrier.YUNDA: CarrierFacts("Yunda Express", re.compile(r"[0-9]{10,15}"), ("韵达", "Yunda")),
    Carrier.STO: CarrierFacts("STO Express", re.compile(r"[0-9]{10,15}"), ("申通", "STO")),
    Carrier.JD_LOGISTICS: CarrierFacts("JD Logistics", re.compile(r"(JD[0-9A-Z]{10,20}|[0-9]{10,15})"), ("京东", "JD")),
    # International EMS numbers (S10): two letters, nine digits, two letters; domestic ones are digits.
    Carrier.EMS: CarrierFacts(
        "China Post EMS", re.compile(r"([A-Z]{2}[0-9]{9}[A-Z]{2}|[0-9]{10,15})"), ("中国邮政EMS",)
    ),
    Carrier.JT_EXPRESS: CarrierFacts("J&T Express", re.compile(r"(JT)?[0-9]{10,15}"), ("极兔", "J&T")),
    Carrier.CHINA_POST: CarrierFacts("China Post", re.compile(r"[0-9]{10,15}"), ("邮政", "中国邮政", "邮政包裹")),
    Carrier.DEPPON: CarrierFacts("Deppon Express", re.compile(r"(DPK)?[0-9]{9,15}"), ("德邦", "Deppon")),
}


def carrier_english_name(code: str) -> str:
    return CARRIER_FACTS[code].english_name


def carrier_from_text(text: str) -> str | None:
    """The carrier code for what staff wrote: a code, the Chinese or English name, or a short name; None if unknown."""
    wanted = "".join(text.split()).casefold()
    for carrier in Carrier:
        facts = CARRIER_FACTS[carrier]
        names = (carrier.value, carrier.label, facts.english_name, *facts.aliases)
        if wanted in {"".join(name.split()).casefold() for name in names}:
            return carrier.value
    return None


def tracking_number_normalize(tracking_number: str) -> str:
    """As carriers print it: no spaces, letters upper case."""
    return "".join(tracking_number.split()).upper()


def tracking_number_fits(*, carrier: str, tracking_number: str) -> bool:
    return CARRIER_FACTS[carrier].tracking_pattern.fullmatch(tracking_number) is not None
