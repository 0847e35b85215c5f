"""A canary listener for SSRF tests, run as its own process: ``python canary.py LOG``.

It prints its port, then records every connection it accepts and every request it reads as a
JSON line in LOG, and answers requests with a small valid SPARQL/RDF body. A test passes only if
LOG stays empty.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main(log_path: str) -> None:
    def record(event: dict) -> None:
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(event) + "\n")

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            record({"event": "request", "method": self.command, "path": self.path})
            body = b'{"head":{"vars":["s"]},"results":{"bindings":[]}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/sparql-results+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_HEAD = answer

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def verify_request(self, request: object, client_address: tuple) -> bool:
            record({"event": "connection", "peer": list(client_address)})
            return True

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
