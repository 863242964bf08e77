"""The orchestrator's inbox: a table from every reply the sagas wait for to the event it is recorded as.

The table is derived from the saga definitions: a reply no definition names
has no handler, and the consumer dead-letters it.
"""

from apps.messaging.consumer import HandlerContext
from apps.orders.sagas import completion_notices, reply_events
from apps.orders.services.runtime import saga_apply_event, saga_note

REPLY_EVENTS = reply_events()
NOTICES = completion_notices()


def on_reply(message, context: HandlerContext) -> None:
    """Move the saga on by the event the reply means: its success or its failure."""
    succeeded, failed = REPLY_EVENTS[context.routing_key]
    saga_apply_event(
        saga_id=message.saga_id,
        order_id=message.order_id,
        event=succeeded if message.success else failed,
        reason=message.reason,
        message_id=context.message_id,
        reply=message,
    )


def on_notice_reply(message, context: HandlerContext) -> None:
    """Note a completion notice's answer (a refusal) in the completed saga's timeline."""
    saga_note(
        saga_id=message.saga_id,
        order_id=message.order_id,
        notice=NOTICES[context.routing_key],
        success=message.success,
        reason=message.reason,
        message_id=context.message_id,
    )


HANDLERS = {
    **dict.fromkeys(REPLY_EVENTS, on_reply),
    **dict.fromkeys(NOTICES, on_notice_reply),
}
