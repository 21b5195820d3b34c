"""A test-only plugin with a setting of every type and a secret (an SMS gateway's token)."""

import flask

from portal.plugin_api import Setting, hookimpl

CONTRACT = "1.0"


@hookimpl
def plugin_settings():
    return [
        Setting("url", str, "https://sms.example.org/send", "the gateway's address"),
        Setting("retries", int, 3, "attempts before a message waits for the next run"),
        Setting("timeout", float, 2.5, "seconds to wait for the gateway"),
        Setting("enabled", bool, True, "whether messages go out at all"),
        Setting("language", str, flask.current_app.config["LANGUAGES"][0], "the messages' language"),
        Setting("token", str, "", "the gateway's API token", secret=True),
        Setting("signing_key", str, "", "the key that signs requests", secret=True, env="REGION_SMS_SIGNING_KEY"),
    ]


class Untyped:
    """A plugin of the first 1.0 releases, declaring its settings as a dict of defaults."""

    CONTRACT = "1.0"

    @staticmethod
    @hookimpl
    def plugin_settings():
        return {"phone": "122", "hours": "8:00–20:00"}


class BadType:
    CONTRACT = "1.0"

    @staticmethod
    @hookimpl
    def plugin_settings():
        return [Setting("when", list, [], "a type settings cannot have")]
