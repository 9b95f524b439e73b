from config.errors import ApplicationError


class StockAdjustmentRefused(ApplicationError):
    code = "stock_adjustment_refused"
    message = "This stock adjustment cannot be made."
