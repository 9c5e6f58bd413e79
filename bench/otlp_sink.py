#!/usr/bin/env python3
"""An OTLP/HTTP sink for benchmarks: answers every POST with 200 and an empty
ExportTraceServiceResponse. python3 otlp_sink.py PORT | HOST:PORT"""
import http.server
import sys


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


host, _, port = sys.argv[1].rpartition(":")
http.server.ThreadingHTTPServer((host or "127.0.0.1", int(port)), Sink).serve_forever()
