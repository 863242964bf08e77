"""One place that configures stdlib logging and structlog for every process."""

import logging
import sys

import structlog


def configure_logging(*, service: str, log_format: str, level: str) -> None:
    """Route stdlib and structlog records through one renderer (JSON or console)."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
    ]
    renderer = (
        structlog.processors.JSONRenderer() if log_format == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("amqp", "kombu", "celery.worker.strategy", "django.db.backends"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLevelName(level)))


def _add_service(service: str):
    def add_service(_logger, _method, event_dict):
        event_dict.setdefault("service", service)
        return event_dict

    return add_service
