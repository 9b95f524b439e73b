from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError


class StockAdjustmentRefused(ApplicationError):
    code = "stock_adjustment_refused"
    message = _("This stock adjustment cannot be made.")


class SkuMatrixRefused(ApplicationError):
    code = "sku_matrix_refused"
    message = _("This SKU table cannot be saved.")


class DescriptionImageRefused(ApplicationError):
    code = "description_image_refused"
    message = _("This image cannot be put into a description.")
