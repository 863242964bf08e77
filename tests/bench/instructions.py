"""make bench-instructions: CPU instructions per POST /orders, ours against the baseline view, under callgrind.

Timings on a shared two-core machine drift by 10-30% between runs minutes
apart; an instruction count does not. Each side runs in its own process
through Django's WSGI handler (no HTTP server, no load generator), against
MariaDB and RabbitMQ in fresh databases and a fresh vhost: ours with the whole
middleware stack, the request's commit and its publish after the response, its
start-up heap frozen as gunicorn's worker hook freezes it; the baseline as in
``make bench`` (stock gunicorn, nothing frozen: freezing its small heap changed
its count by under 0.1%). Each process warms up uninstrumented, then
callgrind counts the user-space instructions of ``--requests`` requests.
System calls and the servers' own work are not counted: this compares code
paths, ``make bench`` compares the system.

    python tests/bench/instructions.py [--requests 200]
"""

import argparse
import glob
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

WARM_UP = 100
SIDES = ("ours", "baseline")


def serve(side: str) -> None:
    """Worker: set up one side, warm it up, then answer each line N on stdin with N requests."""
    if side == "ours":
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
        import django
        from django.core.handlers.wsgi import WSGIHandler

        django.setup()
        application = WSGIHandler()
        from apps.common.process import freeze_startup_heap

        freeze_startup_heap()  # as gunicorn's post_worker_init does once a worker has loaded the app
    else:
        from tests.bench.baseline import application

    def post(i: int) -> None:
        body = json.dumps({"lines": [{"product_id": 5001 + i % 10, "quantity": 1}]}).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/orders",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            # A customer's token: both sides look it up.
            "HTTP_AUTHORIZATION": f"Bearer {os.environ.get('BENCH_TOKEN', '')}",
        }
        statuses = []
        response = application(environ, lambda status, headers: statuses.append(status))
        b"".join(response)
        response.close()  # ours publishes the order's command here, as gunicorn would make it
        if not statuses[0].startswith("201"):
            raise RuntimeError(f"{side}: POST /orders answered {statuses[0]}")

    for i in range(WARM_UP):
        post(i)
    print("ready", flush=True)
    for line in sys.stdin:
        for i in range(int(line)):
            post(i)
        print("done", flush=True)


def count(side: str, requests: int, env: dict[str, str], outdir: str) -> int:
    """Instructions ``side`` runs for ``requests`` requests, counted by callgrind after the warm-up."""
    out = f"{outdir}/{side}.%p"
    worker = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--serve",
            side,
        ],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        if worker.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{side} did not start (run it with --serve {side} to see why)")
        control = ["callgrind_control"]
        subprocess.run([*control, "--instr=on", str(worker.pid)], check=True, capture_output=True)
        worker.stdin.write(f"{requests}\n")
        worker.stdin.flush()
        worker.stdout.readline()
        subprocess.run([*control, "--dump", str(worker.pid)], check=True, capture_output=True)
    finally:
        worker.stdin.close()
        worker.wait(timeout=120)
    totals = []
    for dump in glob.glob(f"{outdir}/{side}.*"):
        totals += [int(line.split()[1]) for line in Path(dump).read_text().splitlines() if line.startswith("totals:")]
    return max(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--serve", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    from tests.stack import Stack

    os.environ.setdefault("TEST_RUN_ID", f"instr{int(time.time())}")
    with tempfile.TemporaryDirectory() as outdir:
        # One customer places every order and none is paid here: its open-order cap would refuse the 21st.
        stack = Stack(
            Path(outdir) / "stack", env={"LOG_LEVEL": "WARNING", "ORDER_MAX_OPEN_PER_CUSTOMER": "1000000"}
        ).create()
        try:
            _, token = stack.customer("bench-customer")
            env = {**stack.base_env, "PROMETHEUS_MULTIPROC_DIR": f"{outdir}/metrics", "BENCH_TOKEN": token}
            Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir()
            figures = {side: count(side, args.requests, env, outdir) / args.requests for side in SIDES}
        finally:
            stack.close()
    for side in SIDES:
        print(f"{side}: {figures[side] / 1000:,.0f}k instructions per POST /orders")
    print(f"baseline / ours: {figures['baseline'] / figures['ours']:.2f}")


if __name__ == "__main__":
    main()
