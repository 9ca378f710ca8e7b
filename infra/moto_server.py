"""moto server, with DynamoDB requests taken one at a time.

moto's TransactWriteItems copies the whole table to roll back on failure; a write to the same
table from another request thread while it copies makes it fail with a 500 ("dictionary changed
size during iteration"). DynamoDB itself serialises conflicting writes, so the tests that race
writes on one table need the emulator to do the same. Other services (SQS long polls included)
keep running side by side.

It also rolls a failed transaction back item by item: moto copies every table a transaction
names once per item of the transaction, so a transaction's cost grew with the table (a 51-item
transaction on a table of 10,000 items took seconds). Here the items it touches are saved and
put back instead; what a transaction does, and what a failed one leaves, is unchanged.

usage: moto_server.py HOST PORT
"""
import copy
import sys
import threading

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

class _NoTableCopies:
    """`copy` for moto's DynamoDB models, except that a table is not copied (see below)."""

    @staticmethod
    def deepcopy(x, memo=None):
        return x if isinstance(x, Table) else copy.deepcopy(x, memo)


dynamodb_models.copy = _NoTableCopies
_transact = DynamoDBBackend.transact_write_items


def _key_of(backend, op_type, op):
    table = backend.tables.get(op.get("TableName"))
    if table is None:
        return None
    if op_type == "Put":
        attrs = op["Item"]
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return key
    return op.get("Key")


def transact_write_items(self, transact_items):
    saved = []
    for item in transact_items:
        op_type, op = next(iter(item.items()))
        key = _key_of(self, op_type, op)
        if key is not None and op_type != "ConditionCheck":
            current = self.get_item(op["TableName"], key)
            saved.append((op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
    try:
        return _transact(self, transact_items)
    except Exception:
        for table_name, key, before in reversed(saved):
            if before is None:
                if self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before)
        raise


DynamoDBBackend.transact_write_items = transact_write_items

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
