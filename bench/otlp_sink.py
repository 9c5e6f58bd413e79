#!/usr/bin/env python3
"""A minimal OTLP/HTTP sink for the tracing benchmarks: answers 200 with an
empty ExportTraceServiceResponse to every POST /v1/traces, and prints the
number of export requests and bytes received when stopped (Ctrl-C/SIGTERM).

    python3 bench/otlp_sink.py 127.0.0.1:4318
"""
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

stats = {"exports": 0, "bytes": 0}


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as tollgate's exporter expects

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        status = 200 if self.path == "/v1/traces" else 404
        stats["exports"] += status == 200
        stats["bytes"] += length
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:4318").rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Sink)

    def stop(*_):
        print(f"otlp_sink: {stats['exports']} exports, {stats['bytes']} bytes", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
