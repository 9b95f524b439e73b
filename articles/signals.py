"""Signals articles/ sends about its own work."""

from django.dispatch import Signal

# A send step's result is stored (articles/services/sending.py): sent with `push_id` and `step`
# ("inline_images", "covers", "draft", "batch:N:answered" before batch N's msg_id is written,
# "batch:N" after, "publication"). Tests use it to stop a worker between two steps.
push_send_step_stored = Signal()
