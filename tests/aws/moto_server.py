"""moto's server with DynamoDB requests serialised.

DynamoDB applies a conditional write to an item atomically. moto's threaded
server checks the condition and stores the item in two Python steps, so two
concurrent conditional puts on one key can, rarely, both win. The adapter tests
race tasks for the execution lock and must see exactly one winner, as on AWS:
this runs moto's own WSGI application (what `moto_server` runs) behind a lock
taken for DynamoDB requests only; every other service stays concurrent (an SQS
long poll must not block the others).

Usage: python tests/aws/moto_server.py -H 127.0.0.1 -p PORT
"""

import argparse
import os
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    # As moto_server does: some responses embed the server's own address.
    os.environ.setdefault("MOTO_PORT", str(args.port))

    moto_app = DomainDispatcherApplication(create_backend_app)
    dynamodb = threading.Lock()

    def app(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with dynamodb:
                # Materialise the body inside the lock: the write happens while
                # the response is produced.
                return list(moto_app(environ, start_response))
        return moto_app(environ, start_response)

    run_simple(
        args.host,
        args.port,
        app,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
