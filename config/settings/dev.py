"""Development: the default for manage.py. The API needs a login here too (``manage.py create_customer``).

DEBUG stays off unless DJANGO_DEBUG=true: even here, an error is a JSON body,
never Django's HTML debug page.
"""

from config.logging import configure_logging

from .base import *  # noqa: F403
from .base import LOG_FORMAT, LOG_LEVEL, SERVICE_NAME

configure_logging(service=SERVICE_NAME, log_format=LOG_FORMAT, level=LOG_LEVEL)
