"""A tiny process that starts the measured commands, so their peak RSS is their own.

On Linux a child's ``ru_maxrss`` starts from the resident size of the process
that forked it: a command started straight from the harness (which has numpy,
s3fs, ... loaded) would report at least the harness's size.  This spawner is a
bare Python (no site, no imports beyond the standard library's core), so the
floor it adds is a few MB.  It reads one JSON request per line on stdin and
answers one JSON line per request on stdout::

    {"cmd": [...], "env": {...}, "cwd": "...", "stdout": PATH, "stderr": PATH,
     "timeout": 600}
    -> {"status": 0, "seconds": 1.23, "maxrss_kib": 45678, "cpu_s": 0.98}
"""

import json
import os
import signal
import sys
import time


def _run(req: dict) -> dict:
    out = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: redirect and exec
        try:
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(err, 2)
            if req.get("cwd"):
                os.chdir(req["cwd"])
            os.execvpe(req["cmd"][0], req["cmd"], req["env"])
        except BaseException as exc:
            os.write(2, f"cannot run {req['cmd'][0]}: {exc}\n".encode())
        os._exit(127)
    os.close(out)
    os.close(err)

    def kill(signum: int, frame: object) -> None:
        os.kill(pid, signal.SIGKILL)

    signal.signal(signal.SIGALRM, kill)
    signal.setitimer(signal.ITIMER_REAL, float(req.get("timeout", 1800)))
    try:
        while True:
            try:
                _, status, usage = os.wait4(pid, 0)
                break
            except InterruptedError:
                continue
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime  # the command's, its waited-for children's included
    return {"status": code, "seconds": seconds, "maxrss_kib": usage.ru_maxrss, "cpu_s": cpu}


def main() -> None:
    """Serve requests until stdin closes."""
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = _run(json.loads(line))
        except Exception as exc:
            answer = {"status": -1, "seconds": 0.0, "maxrss_kib": 0, "error": str(exc)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
