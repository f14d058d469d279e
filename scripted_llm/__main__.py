"""``python -m scripted_llm [--port 0]``: serve the scripted LLM until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import threading

from scripted_llm.llm import ScriptedLLM


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripted_llm", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--log-file", help="also append each request summary to this JSONL file")
    parser.add_argument("--record-bodies", action="store_true", help="keep full request bodies in the log")
    args = parser.parse_args()
    with ScriptedLLM(args.port, record_bodies=args.record_bodies, log_file=args.log_file) as llm:
        print(f"scripted LLM listening on {llm.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
