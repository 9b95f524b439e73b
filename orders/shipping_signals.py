"""What other parts of the product may hook onto when an order ships.

`order_shipped` is sent after the transaction that recorded new parcels (or a virtual delivery)
commits, with `order_id`, `shipment_ids` (the parcels new this time) and `all_delivered`. A
shipment recorded twice sends it once. It is sent for every batch of new parcels, so the buyer's
"your order shipped" message does not hang off it: that follows the order's one move to shipped
(orders.signals.order_status_entered, sent by the status service).
"""

from django.dispatch import Signal

order_shipped = Signal()
