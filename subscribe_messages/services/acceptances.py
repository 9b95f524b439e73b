"""What a buyer accepted in wx.requestSubscribeMessage, as the Mini Program reports it (POST /api/v1/subscriptions)."""

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from customers.models import Customer
from subscribe_messages.exceptions import SubscribeTemplatesUnknown
from subscribe_messages.models import SubscribeMessageTemplate, SubscriptionAcceptance, SubscriptionResult
from wechat.merchants import mini_program_default
from wechat.models import MiniProgram


def customer_mini_program(*, customer: Customer) -> MiniProgram:
    """The Mini Program the customer logged in through (before Mini Programs were rows: the settings')."""
    return customer.mini_program or mini_program_default()


@transaction.atomic
def subscription_results_record(*, customer: Customer, results: dict[str, str]) -> list[SubscriptionAcceptance]:
    """Count each "accept" as one message the buyer allows; the others are kept as the last answer only.

    Raises SubscribeTemplatesUnknown, recording nothing, when a template id is not one of the enabled
    templates of the customer's Mini Program.
    """
    templates = {
        template.template_id: template
        for template in SubscribeMessageTemplate.objects.filter(
            mini_program=customer_mini_program(customer=customer), template_id__in=list(results), enabled=True
        )
    }
    if unknown := sorted(set(results) - set(templates)):
        message = _("No subscribe message template of this Mini Program has this ID.")
        raise SubscribeTemplatesUnknown(fields={"results": {template_id: [message] for template_id in unknown}})
    acceptances = []
    for template_id in sorted(results):  # one order of row locks for every request
        accepted = int(results[template_id] == SubscriptionResult.ACCEPT)
        acceptance, _created = SubscriptionAcceptance.objects.get_or_create(
            customer=customer, template=templates[template_id], defaults={"last_result": results[template_id]}
        )
        SubscriptionAcceptance.objects.filter(pk=acceptance.pk).update(
            available=F("available") + accepted,
            accepted_total=F("accepted_total") + accepted,
            last_result=results[template_id],
        )
        acceptance.refresh_from_db()
        acceptances.append(acceptance)
    return acceptances
