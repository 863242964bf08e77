"""The comparison point for the relay benchmark: wait for each message's confirm before the next."""

from apps.messaging.publisher import ConfirmingPublisher, PublishResult


class SingleConfirmPublisher(ConfirmingPublisher):
    def _publish_batch(self, batch):
        result = PublishResult()
        for item in batch:
            one = super()._publish_batch([item])
            result.confirmed |= one.confirmed
            result.failed.update(one.failed)
        return result
