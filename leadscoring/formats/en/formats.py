"""One format per kind of value on every page (FORMAT_MODULE_PATH in settings).

Django localizes dates with the language's formats ("Dec. 3, 2026, 3:04 a.m." in English), which
put a second style beside the ISO-like dates the pages write: these replace them. Templates
use `|date` (DATE_FORMAT) and `|date:"DATETIME_FORMAT"`; times are UTC (TIME_ZONE).
"""

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
MONTH_DAY_FORMAT = "F j"
YEAR_MONTH_FORMAT = "F Y"
