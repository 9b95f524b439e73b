"""What orders tell apps above them, which orders must not import (the layers in pyproject.toml)."""

from django.dispatch import Signal

# Sent by the status service inside the transaction that moved orders to `to_status`, with
# `order_ids`: a receiver that acts outside the database queues its work with transaction.on_commit.
order_status_entered = Signal()
