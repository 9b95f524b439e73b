"""Form fields the catalog's admin pages share."""

from decimal import Decimal

from django import forms

from config.money import fen_from_yuan, yuan_from_fen


class YuanPriceField(forms.DecimalField):
    """Staff type yuan (39.90), the model stores fen (3990).

    Typing fen invites hundredfold mistakes, so the form speaks yuan and converts
    exactly: more than two decimal places is refused, never rounded.
    """

    def __init__(self, **kwargs):
        # 9,999,999.99 yuan is 999,999,999 fen, which fits every database's integer column.
        super().__init__(max_digits=9, decimal_places=2, min_value=Decimal("0"), **kwargs)

    def prepare_value(self, value):
        # The model's value is an int of fen; anything else is what the user typed.
        if isinstance(value, int):
            return yuan_from_fen(value)
        return value

    def clean(self, value) -> int | None:
        # DecimalField has already refused a third decimal place, so this is exact.
        yuan = super().clean(value)
        return None if yuan is None else fen_from_yuan(yuan)

    def has_changed(self, initial, data) -> bool:
        return super().has_changed(self.prepare_value(initial), data)
