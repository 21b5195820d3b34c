"""A test-only SMS gateway: a real channel through the plugin contract, keeping what it sent."""

from portal.plugin_api import NotificationChannel, OutgoingMessage, hookimpl

CONTRACT = "1.0"

SENT: list[OutgoingMessage] = []


class RecordingGateway(NotificationChannel):
    name = "sms"

    def send(self, message: OutgoingMessage) -> None:
        if message.recipient.endswith("0000"):
            raise ConnectionError("the gateway refuses this number")
        SENT.append(message)


@hookimpl
def notification_channels():
    return [RecordingGateway()]
