"""moto server, with DynamoDB requests taken one at a time.

moto's TransactWriteItems copies the whole table to roll back on failure; a write to the same
table from another request thread while it copies makes it fail with a 500 ("dictionary changed
size during iteration"). DynamoDB itself serialises conflicting writes, so the tests that race
writes on one table need the emulator to do the same. Other services (SQS long polls included)
keep running side by side.

usage: moto_server.py HOST PORT
"""
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

dynamodb = threading.Lock()
app = DomainDispatcherApplication(create_backend_app)


def serialised(environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        with dynamodb:
            # Consume the whole answer while holding the lock.
            body = list(app(environ, start_response))
        return body
    return app(environ, start_response)


run_simple(sys.argv[1], int(sys.argv[2]), serialised, threaded=True, request_handler=MotoRequestHandler)
