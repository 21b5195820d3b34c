"""The portal for gunicorn in tests/test_booking_race.py: ``gunicorn tests.race_app:app``, its
settings (the test's database, instance folder and secret) from the JSON in RACE_APP_CONFIG."""

import json
import os

from portal import create_app

app = create_app(json.loads(os.environ["RACE_APP_CONFIG"]))
