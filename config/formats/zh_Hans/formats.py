"""Chinese formats on top of Django's own (django/conf/locale/zh_Hans/formats.py gives 2026年12月4日 22:11).

Only the input formats change: ISO dates first, as Chinese shop admins type and as the admin's
date widgets show them, and without Django's "%n" (not a strptime code) in its last datetime format.
"""

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
]
# Django's Chinese formats group digits by four with no separator; prices read ¥1,280.00 (config/money.py).
NUMBER_GROUPING = 3
THOUSAND_SEPARATOR = ","
