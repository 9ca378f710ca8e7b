"""Start-up time of Lambda bootstrap binaries: from process start to the first poll of the Lambda
Runtime API (GET .../runtime/invocation/next), which is when a function is ready for its first
event. A small Runtime API stand-in on loopback records the moment that request arrives.

usage: init_time.py RUNS NAME=PATH [NAME=PATH ...]   (prints one JSON object: name -> median ms)
The environment the binaries need (table, queues, region) is taken from this process's.
"""
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time

arrived = threading.Event()
arrival = [0.0]


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the http.server naming)
        if self.path.endswith("/runtime/invocation/next") and not arrived.is_set():
            arrival[0] = time.perf_counter()
            arrived.set()
        # Never answer: the process is stopped once it has asked.

    def log_message(self, *args):
        pass


def main():
    runs = int(sys.argv[1])
    binaries = [a.split("=", 1) for a in sys.argv[2:]]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
               AWS_LAMBDA_FUNCTION_NAME="bench", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
               AWS_LAMBDA_FUNCTION_VERSION="1", AWS_LAMBDA_LOG_FORMAT="JSON")
    samples = {name: [] for name, _ in binaries}
    # Interleaved, so a noisy moment of the machine hits every binary alike.
    for _ in range(runs):
        for name, path in binaries:
            arrived.clear()
            start = time.perf_counter()
            p = subprocess.Popen([path], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if not arrived.wait(10):
                p.kill()
                sys.exit(f"{name} did not poll the Runtime API within 10 s")
            samples[name].append((arrival[0] - start) * 1000)
            p.kill()
            p.wait()
    print(json.dumps({name: round(statistics.median(v), 2) for name, v in samples.items()}))


main()
