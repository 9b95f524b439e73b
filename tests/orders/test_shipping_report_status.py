"""The WeChat shipping report's transition table: each allowed move, and each refused one."""

import itertools

import pytest

from config.status_machine import StatusActor
from orders.services.shipping_report import REPORT_STATUS
from orders.shipment_models import ShippingReportStatus as R

ALLOWED = {
    (R.PENDING, R.REPORTED, StatusActor.SYSTEM),
    (R.PENDING, R.FAILED, StatusActor.SYSTEM),
    (R.REPORTED, R.PENDING, StatusActor.STAFF),
    (R.FAILED, R.PENDING, StatusActor.STAFF),
}
EVERY_MOVE = [
    (from_status, to_status, actor)
    for from_status, to_status in itertools.permutations(R.values, 2)
    for actor in StatusActor.values
]


@pytest.mark.parametrize(("from_status", "to_status", "actor"), EVERY_MOVE)
def test_only_the_table_s_moves_are_allowed(from_status, to_status, actor):
    allowed = REPORT_STATUS.allows(from_status=from_status, to_status=to_status, actor=actor)

    assert allowed == ((from_status, to_status, actor) in ALLOWED)
